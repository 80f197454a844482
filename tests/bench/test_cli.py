"""The command line end to end on tiny cells: run, resume, fail cleanly, report."""

import json
from pathlib import Path

import pytest

from tests.cli_args import TINY_SYNTHETIC
from tradeoff_bench.bench.cli import main
from tradeoff_bench.bench.store import Store

TINY = [*TINY_SYNTHETIC, "--method", "dense", "--set", "multipliers=[0.5, 1.0]"]


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_registered_names(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["list"], capsys)
    assert code == 0
    assert "synthetic" in out and "dense" in out and "mse" in out
    code, out, _ = run(["list", "den*", "--kind", "methods"], capsys)
    assert out.split()[:2] == ["method", "dense"] and "synthetic" not in out


def test_adhoc_run_then_rerun_trains_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "run"
    code, out, _ = run(["run", *TINY, "--seeds", "0,1", "--out", str(out_dir), "--no-progress"], capsys)
    assert code == 0, out
    records = list(Store(out_dir).records())
    assert len(records) == 4 and all(r.status == "ok" for r in records)
    assert {r.label for r in records} == {"x0.5", "x1"}
    stamp = {p: p.stat().st_mtime_ns for p in (out_dir / "records").iterdir()}
    code, out, _ = run(["run", *TINY, "--seeds", "0,1", "--out", str(out_dir), "--no-progress"], capsys)
    assert code == 0 and "nothing to train" in out
    assert {p: p.stat().st_mtime_ns for p in (out_dir / "records").iterdir()} == stamp


def test_a_board_goes_on_from_its_published_part(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Seed 0 published by one session; the next runs only seed 1, and one report holds both."""
    first, second, report = tmp_path / "first", tmp_path / "second", tmp_path / "results"
    assert run(["run", *TINY, "--seeds", "0", "--out", str(first), "--no-progress"], capsys)[0] == 0
    assert run(["report", str(first), "--to", str(report)], capsys)[0] == 0
    code, out, _ = run(
        ["run", *TINY, "--seeds", "0,1", "--out", str(second), "--continue-from", str(report), "--no-progress"],
        capsys,
    )
    assert code == 0 and "ran 1 of 2 cells" in out and "1 of them held by the published report" in out
    assert {r.seed for r in Store(second).records()} == {1}
    assert f"report {report} {second} --to {report}" in out
    assert run(["report", str(report), str(second), "--to", str(report)], capsys)[0] == 0
    board = next(p.parent for p in report.rglob("records.jsonl.gz"))
    assert "| dense | 2 |" in (board / "leaderboard.md").read_text()  # both seeds on one board
    code, _, err = run(["run", *TINY, "--out", str(second), "--continue-from", str(first / "records")], capsys)
    assert code == 2 and "holds no published board" in err


def test_a_published_cell_made_on_another_corpus_version_runs_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A generated corpus changed between sessions: its published cells are not mixed into the board."""
    from tradeoff_bench.tasks.synthetic import SyntheticTask

    first, second, report = tmp_path / "first", tmp_path / "second", tmp_path / "results"
    monkeypatch.setattr(SyntheticTask, "corpus_version", lambda self: "teacher 1")
    assert run(["run", *TINY, "--seeds", "0", "--out", str(first), "--no-progress"], capsys)[0] == 0
    assert {r.corpus_version for r in Store(first).records()} == {"teacher 1"}
    assert run(["report", str(first), "--to", str(report)], capsys)[0] == 0
    monkeypatch.setattr(SyntheticTask, "corpus_version", lambda self: "teacher 2")
    args = ["run", *TINY, "--seeds", "0,1", "--out", str(second), "--continue-from", str(report), "--no-progress"]
    code, out, _ = run(args, capsys)
    assert code == 0 and "ran 2 of 2 cells" in out and "held by the published report" not in out
    assert "1 cells of the published report were made on another version of the corpus" in out
    assert {(r.seed, r.corpus_version) for r in Store(second).records()} == {(0, "teacher 2"), (1, "teacher 2")}


def test_record_carries_spec_figures_and_provenance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(["run", *TINY, "--out", str(tmp_path), "--no-progress"], capsys)
    path = next((tmp_path / "records").glob("*.json"))
    data = json.loads(path.read_text())
    for key in (
        "task",
        "corpus",
        "method",
        "settings",
        "seed",
        "label",
        "status",
        "error",
        "macs",
        "params",
        "bytes",
        "latency_ms",
        "metrics",
        "primary_metric",
        "higher_is_better",
        "train_seconds",
        "widths",
        "provenance",
        "schema_version",
        "cell_id",
        "task_settings",
    ):
        assert key in data, key
    assert data["settings"]["multipliers"] == [0.5, 1.0] and data["settings"]["epochs"] is None
    assert {"commit", "dirty", "versions", "cpu", "threads", "time_utc"} <= set(data["provenance"])
    assert data["provenance"]["versions"]["torch"].startswith("2.11")


def test_failing_cell_is_recorded_and_the_grid_goes_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text("""
seeds = [0]
[[tasks]]
name = "synthetic"
settings = { n_train = 128, n_val = 32, n_test = 64, epochs = 1 }
[[tasks]]
name = "synthetic"
settings = { n_train = 512, n_val = 32, n_test = 64, epochs = 1, lr = 1e30 }
[[methods]]
name = "dense"
settings = { multipliers = [1.0] }
""")
    code, out, _ = run(["run", str(grid), "--out", str(tmp_path / "run"), "--no-progress"], capsys)
    assert code == 1 and out.strip().splitlines()[-1] == "1 cell failed."
    records = list(Store(tmp_path / "run").records())
    statuses = sorted(r.status for r in records)
    assert statuses == ["failed", "ok"]
    failed = next(r for r in records if r.status == "failed")
    assert "NonFiniteLossError" in failed.error
    code, out, _ = run(["run", str(grid), "--out", str(tmp_path / "run"), "--no-progress"], capsys)
    assert code == 1 and "nothing to train" in out  # a failure stays visible on resume
    assert (
        out.strip().splitlines()[-1] == "1 cell failed, 1 of them in an earlier run (--retry-failed runs them again)."
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--task", "synthetc", "--method", "dense"], "Did you mean: synthetic"),
        (["run", "--task", "synthetic", "--method", "dens"], "Did you mean: dense"),
        (["run", "--task", "synthetic", "--method", "dense", "--set", "multiplier=[1.0]"], "Did you mean: multipliers"),
        (["run", "--task", "synthetic", "--method", "dense", "--set", "epochs=many"], "epochs"),
        (["run", "--task", "synthetic", "--method", "dense", "--seeds", "a"], "--seeds"),
        (["run", "--task", "synthetic"], "needs both"),
        (["run", "missing-grid.toml"], "does not exist"),
    ],
)
def test_bad_input_is_one_clear_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    out_dir = tmp_path / "out"
    code, _, err = run([*args, "--out", str(out_dir)], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not out_dir.exists()


def test_unwritable_output_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("")
    code, _, err = run(["run", *TINY, "--out", str(tmp_path / "file" / "out")], capsys)
    assert code == 2 and err.startswith("error: ") and "not writable" in err


@pytest.mark.parametrize(
    "methods", [["--method", "dense,quantization"], ["--method", "dense", "--method", "quantization"]]
)
def test_several_methods_run_in_one_adhoc_run(
    methods: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "run"
    args = [*TINY_SYNTHETIC, *methods, "--set", "multipliers=[1.0]", "--set", "modes=['dynamic']"]
    code, out, _ = run(["run", *args, "--out", str(out_dir), "--no-progress"], capsys)
    assert code == 0, out
    records = list(Store(out_dir).records())
    assert {(r.method, r.label) for r in records} == {("dense", "x1"), ("quantization", "int8-dynamic")}
    assert "tradeoff-bench report" in out
    assert "synthetic/dense seed=0 x1: 1.000 of the full MACs, mse " in out  # one line per candidate


def test_a_setting_no_named_method_has_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args = [*TINY_SYNTHETIC, "--method", "dense,dcl", "--set", "sparsities=[0.5]", "--out", str(tmp_path / "r")]
    assert main(["run", *args]) == 2
    assert "none of the methods dense, dcl has a setting 'sparsities'" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_a_value_split_at_a_space_gets_a_hint_to_quote_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", *TINY_SYNTHETIC, "--method", "dense", "--set", "multipliers=[0.5,", "1.0]"]) == 2
    assert "quote the value" in capsys.readouterr().err
