from pathlib import Path

import pytest

from tradeoff_bench.bench.grid import Cell, GridError, load_grid, plan_grid, resolve_cell
from tradeoff_bench.core.registry import UnknownNameError

GRID = """
name = "t"
seeds = [0, 1]

[[tasks]]
name = "synthetic"
settings = { n_train = 64 }

[[methods]]
name = "dense"
settings = { epochs = 1 }
sweep = { multipliers = [[0.5], [1.0]] }
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "grid.toml"
    path.write_text(text)
    return path


def test_grid_expands_sweeps_and_seeds_with_defaults_filled(tmp_path: Path) -> None:
    cells = load_grid(write(tmp_path, GRID))
    assert len(cells) == 4
    assert {c.seed for c in cells} == {0, 1}
    assert {tuple(c.method_settings["multipliers"]) for c in cells} == {(0.5,), (1.0,)}
    assert all(c.task_settings["n_train"] == 64 and c.task_settings["n_test"] == 2048 for c in cells)
    assert len({c.cell_id for c in cells}) == 4


def test_cell_id_ignores_whether_a_default_was_spelled_out() -> None:
    implicit = resolve_cell("synthetic", {}, "dense", {}, 0)
    explicit = resolve_cell("synthetic", {"n_train": 4096}, "dense", {"epochs": None}, 0)
    changed = resolve_cell("synthetic", {"n_train": 4000}, "dense", {}, 0)
    assert implicit.cell_id == explicit.cell_id != changed.cell_id
    assert Cell.from_dict(implicit.to_dict()) == implicit


def test_method_restricted_to_tasks() -> None:
    spec = {"tasks": [{"name": "synthetic"}], "methods": [{"name": "dense", "tasks": ["synthetic"]}]}
    assert len(plan_grid(spec)) == 1
    with pytest.raises(UnknownNameError, match="Did you mean: synthetic"):
        plan_grid({"tasks": [{"name": "synthetic"}], "methods": [{"name": "dense", "tasks": ["synthetc"]}]})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("seeds = [0]\n[[tasks]]\nname = 'synthetic'\n", "methods"),
        ("seeds = 'x'\n[[tasks]]\nname='synthetic'\n[[methods]]\nname='dense'\n", "seeds"),
        ("sedes = [0]\n[[tasks]]\nname='synthetic'\n[[methods]]\nname='dense'\n", "Did you mean: seeds"),
        ("[[tasks]]\nname='synthetic'\n[[methods]]\nname='dense'\nsweep = { epochs = 3 }\n", "non-empty list"),
        ("[[tasks]]\nname='synthetic'\n[[methods]]\nname='dense'\nsettings={multipliers=[2.0]}\n", "multipliers"),
        ("[[tasks]\nname=", "not valid TOML"),
    ],
)
def test_malformed_grids_fail_with_a_clear_message(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(GridError, match=message):
        load_grid(write(tmp_path, text))


def test_unknown_names_and_settings_suggest_the_closest(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="Did you mean: dense"):
        load_grid(write(tmp_path, GRID.replace('name = "dense"', 'name = "dens"')))
    with pytest.raises(UnknownNameError, match="Did you mean: epochs"):
        load_grid(write(tmp_path, GRID.replace("epochs = 1", "epoch = 1")))


def test_missing_grid_file(tmp_path: Path) -> None:
    with pytest.raises(GridError, match="does not exist"):
        load_grid(tmp_path / "nope.toml")


def test_shipped_grids_are_valid() -> None:
    grids = sorted(Path(__file__).resolve().parents[2].joinpath("bench", "grids").glob("*.toml"))
    assert grids
    for grid in grids:
        assert load_grid(grid)


def test_extends_keeps_the_composition_and_overrides_seeds_and_task_settings(tmp_path: Path) -> None:
    write(tmp_path, GRID)
    quick = tmp_path / "quick.toml"
    quick.write_text('extends = "grid.toml"\nname = "q"\nseeds = [3]\ntask_settings = { synthetic = { epochs = 2 } }\n')
    base, cells = load_grid(tmp_path / "grid.toml"), load_grid(quick)
    assert {c.seed for c in cells} == {3}
    assert [c.method_settings for c in cells] == [c.method_settings for c in base if c.seed == 0]
    assert all(c.task_settings["epochs"] == 2 and c.task_settings["n_train"] == 64 for c in cells)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('extends = "nosuch.toml"\n', "does not exist"),
        ('extends = "grid.toml"\ntask_settings = { vad = { epochs = 2 } }\n', "has no task 'vad'"),
        ("task_settings = { synthetic = { epochs = 2 } }\n", "there is none"),
    ],
)
def test_extends_errors_are_clear(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path, GRID)
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    with pytest.raises(GridError, match=message):
        load_grid(bad)


def test_quick_grid_is_the_default_composition_at_one_seed() -> None:
    grids = Path(__file__).parents[2] / "bench" / "grids"
    default, quick = load_grid(grids / "default.toml"), load_grid(grids / "quick.toml")
    assert {c.seed for c in quick} == {0}
    assert {(c.task, c.method) for c in quick} == {(c.task, c.method) for c in default}
    assert all(
        c.task_settings["epochs"] < d.task_settings["epochs"] for c in quick for d in default if c.task == d.task
    )
