"""The Ray executor on a real local Ray cluster: the same records as the local executor, cell time
limits, and the CLI path. Skipped where the `ray` extra is not installed (CI installs it)."""

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.xdist_group("ray")  # one worker holds the module's one local cluster

from tests.cli_args import task_settings  # noqa: E402
from tradeoff_bench.bench.cli import main  # noqa: E402
from tradeoff_bench.bench.driver import run_grid  # noqa: E402
from tradeoff_bench.bench.executors import LocalExecutor  # noqa: E402
from tradeoff_bench.bench.grid import Cell, load_grid, plan_grid, resolve_cell  # noqa: E402
from tradeoff_bench.bench.ray_executor import RayExecutor, start_local_ray  # noqa: E402
from tradeoff_bench.bench.store import Store  # noqa: E402
from tradeoff_bench.core.records import Record  # noqa: E402
from tradeoff_bench.methods import METHODS  # noqa: E402
from tradeoff_bench.tasks import TASKS  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DEFAULT_GRID = REPO / "bench" / "grids" / "default.toml"
TIMING = {"train_seconds", "cell_seconds", "latency_ms", "provenance"}
"""What may differ between two runs of a cell: wall-clock figures and where/when it ran."""


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    """A local two-CPU Ray cluster for this module (the executors join it and leave it running)."""
    if ray.is_initialized():
        ray.shutdown()
    start_local_ray(num_cpus=2)
    yield
    ray.shutdown()


def comparable(store: Store) -> dict[str, dict]:
    return {r.record_id: {k: v for k, v in r.to_dict().items() if k not in TIMING} for r in store.records()}


def assert_same_records(local: Store, remote: Store) -> None:
    a, b = comparable(local), comparable(remote)
    assert a and sorted(a) == sorted(b)
    for record_id, fields in a.items():
        assert b[record_id] == fields, record_id  # metrics and MACs bit for bit


def tiny_default_grid() -> list[Cell]:
    """The default grid's tasks, methods and seeds at the registries' tiny settings (seconds per cell)."""
    spec = tomllib.loads(DEFAULT_GRID.read_text())
    for task in spec["tasks"]:
        task["settings"] = {**task.get("settings", {}), **TASKS.get(task["name"]).tiny_variants[0]}
    for method in spec["methods"]:
        tiny = dict(METHODS.get(method["name"]).tiny_settings)
        method["settings"] = {**method.get("settings", {}), **tiny}
        method["sweep"] = {k: v[:1] for k, v in method.get("sweep", {}).items() if k not in tiny}
    spec["seeds"] = spec["seeds"][:2]
    return plan_grid(spec)


def run_both(cells: list[Cell], tmp_path: Path) -> tuple[Store, Store]:
    local, remote = Store(tmp_path / "local"), Store(tmp_path / "ray")
    run_grid(cells, local, LocalExecutor(1, threads=1), progress=False)
    run_grid(cells, remote, RayExecutor(cpus_per_cell=1), progress=False)
    return local, remote


def test_ray_gives_the_local_records_on_the_default_grid_at_tiny_settings(cluster: None, tmp_path: Path) -> None:
    local, remote = run_both(tiny_default_grid(), tmp_path)
    assert_same_records(local, remote)
    assert all(r.status == "ok" for r in remote.records())
    assert ray.is_initialized(), "an executor that joined a cluster must leave it running"


@pytest.mark.slow
def test_ray_gives_the_local_records_on_the_default_synthetic_cells(cluster: None, tmp_path: Path) -> None:
    """The default grid's own settings (not tiny ones) for dense and dcl on the synthetic task."""
    cells = [c for c in load_grid(DEFAULT_GRID) if c.task == "synthetic" and c.method in ("dense", "dcl")]
    local, remote = run_both(cells, tmp_path)
    assert_same_records(local, remote)


def test_ray_stops_a_cell_at_its_time_limit_and_goes_on(cluster: None, tmp_path: Path) -> None:
    tiny = {"n_train": 128, "n_val": 32, "n_test": 64, "epochs": 1}
    endless = {"n_train": 4096, "n_val": 32, "n_test": 64, "epochs": 1_000_000}
    cells = [resolve_cell("synthetic", s, "dense", {"multipliers": [1.0]}, 0) for s in (endless, tiny)]
    store = Store(tmp_path)
    summary = run_grid(cells, store, RayExecutor(cell_timeout=3), progress=False)
    assert summary.ran == 2
    errors = {r.cell_id: r.error for r in store.records()}
    assert errors == {cells[0].cell_id: "TimeoutError: cell exceeded 3 s", cells[1].cell_id: None}


def test_cli_runs_a_grid_on_ray(cluster: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "run",
        "--task",
        "synthetic",
        "--method",
        "dense",
        "--set",
        "multipliers=[0.5, 1.0]",
        "--seeds",
        "0,1",
        *task_settings(n_train=128, n_val=32, n_test=64, epochs=1),
        "--no-progress",
        "--cpus-per-cell",
        "1",
    ]
    assert main([*args, "--executor", "ray", "--out", str(tmp_path / "ray")]) == 0
    assert main([*args, "--out", str(tmp_path / "local")]) == 0
    assert "ran 2 of 2 cells" in capsys.readouterr().out
    records: list[Record] = list(Store(tmp_path / "ray").records())
    assert len(records) == 4 and {r.provenance["threads"] for r in records} == {1}
    assert_same_records(Store(tmp_path / "local"), Store(tmp_path / "ray"))
