"""The command line never hides a failure: exit codes, where reports go, damaged or stale run
folders, operating-system errors and closed pipes, each as one line and without a traceback."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_args import TINY_SYNTHETIC
from tradeoff_bench.bench.cli import EXIT_BROKEN_PIPE, EXIT_CELLS_FAILED, EXIT_ERROR, main
from tradeoff_bench.bench.provenance import code_versions
from tradeoff_bench.bench.store import Store
from tradeoff_bench.tasks import CORPORA
from tradeoff_bench.tasks.corpora import CorpusGenerator

REPO = Path(__file__).resolve().parents[2]
TINY = [*TINY_SYNTHETIC, "--method", "dense", "--set", "multipliers=[1.0]", "--no-progress"]


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def finished_run(tmp_path: Path, capsys: pytest.CaptureFixture[str], seeds: str = "0,1") -> Path:
    out = tmp_path / "run"
    code, stdout, _ = cli(["run", *TINY, "--seeds", seeds, "--out", str(out)], capsys)
    assert code == 0 and stdout.strip().splitlines()[-1] == "0 cells failed."
    return out


# --- bad settings ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--set", "epochs=-1"], "method 'dense' setting 'epochs': must be at least 1, got -1"),
        (["--set", "epochs=0"], "must be at least 1, got 0"),
        (["--task-set", "epochs=-3"], "task 'synthetic' setting 'epochs': must be at least 1, got -3"),
        (["--seeds", "0,-1"], "seeds must be 0 or more, got -1"),
    ],
)
def test_negative_epochs_and_seeds_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    code, _, err = cli(["run", *TINY, *flags, "--out", str(tmp_path / "out")], capsys)
    assert code == EXIT_ERROR and message in one_error_line(err)
    assert not (tmp_path / "out").exists()


def test_a_negative_seed_in_a_grid_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text('seeds = [-2]\n[[tasks]]\nname = "synthetic"\n[[methods]]\nname = "dense"\n')
    code, _, err = cli(["run", str(grid), "--out", str(tmp_path / "out")], capsys)
    assert code == EXIT_ERROR and "seed must be an integer of 0 or more, got -2" in one_error_line(err)


def test_fine_tuning_epochs_may_be_zero_but_not_negative(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["run", "--task", "synthetic", "--method", "magnitude", "--out", str(tmp_path / "out")]
    code, _, err = cli([*args, "--set", "finetune_epochs=-1"], capsys)
    assert code == EXIT_ERROR and "'finetune_epochs': must be at least 0, got -1" in one_error_line(err)


# --- exit status of a run ----------------------------------------------------------------------
def test_a_grid_with_a_failing_cell_exits_1_with_the_count_last(tmp_path: Path) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text("""seeds = [0]
[[tasks]]
name = "synthetic"
settings = { n_train = 512, n_val = 32, n_test = 64, epochs = 1, lr = 1e30 }
[[methods]]
name = "dense"
settings = { multipliers = [1.0] }
""")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tradeoff_bench.bench.cli",
            "run",
            str(grid),
            "--out",
            str(tmp_path / "run"),
            "--no-progress",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == EXIT_CELLS_FAILED
    assert done.stdout.strip().splitlines()[-1] == "1 cell failed."


# --- reports never overwrite the publication by accident --------------------------------------
def test_report_without_to_writes_into_the_run_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = finished_run(tmp_path, capsys, seeds="0")
    monkeypatch.chdir(tmp_path)  # where a `results/` would land were the old default kept
    code, out, _ = cli(["report", str(run)], capsys)
    assert code == 0 and f"to {run / 'report'}" in out
    assert (run / "report" / "README.md").exists() and not (tmp_path / "results").exists()


def test_report_of_several_runs_needs_to(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = finished_run(tmp_path, capsys, seeds="0")
    code, _, err = cli(["report", str(run), str(run)], capsys)
    assert code == EXIT_ERROR and "several run directories need --to" in one_error_line(err)


def test_report_to_an_existing_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = finished_run(tmp_path, capsys, seeds="0")
    (tmp_path / "file").write_text("keep me")
    code, _, err = cli(["report", str(run), "--to", str(tmp_path / "file")], capsys)
    assert code == EXIT_ERROR and "exists and is not a folder" in one_error_line(err)
    assert (tmp_path / "file").read_text() == "keep me"


# --- damaged run folders are repaired, not trusted ----------------------------------------------
@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_run_redoes_a_finished_cell_whose_record_is_damaged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    run = finished_run(tmp_path, capsys)
    victim = sorted((run / "records").glob("*.json"))[0]
    text = victim.read_text()
    if damage == "truncate":
        victim.write_text(text[: len(text) // 2])
    else:
        victim.unlink()
    code, _, err = cli(["report", str(run)], capsys)
    assert code == EXIT_ERROR and victim.name in one_error_line(err)  # report names it
    code, out, err = cli(["run", *TINY, "--seeds", "0,1", "--out", str(run)], capsys)
    assert code == 0 and "ran 1 of 2 cells" in out
    assert victim.name in err and "running the cell again" in err
    assert json.loads(victim.read_text())["status"] == "ok"
    assert len(list(Store(run).records())) == 2


# --- stale records -------------------------------------------------------------------------------
def make_stale(run: Path, count: int) -> None:
    """Pretend other code made the first `count` cells: their records carry another source digest."""
    for marker in sorted((run / "cells").glob("*.json"))[:count]:
        for record_id in json.loads(marker.read_text())["records"]:
            path = run / "records" / f"{record_id}.json"
            data = json.loads(path.read_text())
            data["provenance"]["code"] = "0123456789abcdef"
            path.write_text(json.dumps(data))


def test_records_of_other_code_are_named_and_redone_on_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = finished_run(tmp_path, capsys)
    make_stale(run, 1)
    code, out, _ = cli(["run", *TINY, "--seeds", "0,1", "--out", str(run)], capsys)
    assert code == 0 and "nothing to train" in out
    assert "1 finished cells were made by other code than this checkout's: --rerun-stale" in out
    code, _, err = cli(["report", str(run)], capsys)
    assert code == 0 and "mixes records of 2 code versions" in err
    board = (run / "report" / "synthetic" / "leaderboard.md").read_text()
    assert "Warning: mixed code" in board and "(code 0123456789abcdef): 1 cell" in board
    code, out, _ = cli(["run", *TINY, "--seeds", "0,1", "--out", str(run), "--rerun-stale"], capsys)
    assert code == 0 and "ran 1 of 2 cells" in out
    cli(["report", str(run)], capsys)
    assert "mixed code" not in (run / "report" / "synthetic" / "leaderboard.md").read_text()


# --- operating-system errors -------------------------------------------------------------------
def test_generate_under_a_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("")
    code, _, err = cli(["data", "generate", "vad-mini", "--root", str(tmp_path / "file" / "data")], capsys)
    assert code == EXIT_ERROR and str(tmp_path / "file") in one_error_line(err)


def test_a_full_disk_says_disk_full(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def fill(root: Path, seed: int) -> None:
        with open("/dev/full", "w") as device:  # every write to /dev/full fails with ENOSPC
            device.write("x" * 100_000)
            device.flush()

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    monkeypatch.setattr(CORPORA, "_entries", {"full-mini": CorpusGenerator("full-mini", "fills the disk", fill)})
    code, _, err = cli(["data", "generate", "full-mini", "--root", str(tmp_path / "data")], capsys)
    assert code == EXIT_ERROR and one_error_line(err) == f"error: {tmp_path / 'data'}: disk full"


def test_a_closed_output_pipe_ends_quietly() -> None:
    """`tradeoff-bench list | head -1`: no BrokenPipeError traceback, SIGPIPE's conventional status."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tradeoff_bench.bench.cli", "list"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # the reader is gone before the first line is written
    _, err = proc.communicate(timeout=60)
    assert err == b"" and proc.returncode == EXIT_BROKEN_PIPE


def test_a_worker_whose_driver_died_ends_quietly(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After `kill -9` of the driver, a worker finishing its cell has nobody to send to: it ends, silent."""
    import multiprocessing
    import os
    import threading

    from tradeoff_bench.bench import executors
    from tradeoff_bench.bench.grid import resolve_cell

    monkeypatch.setattr(executors.signal, "signal", lambda *args: None)  # leave pytest's Ctrl-C alone
    monkeypatch.setattr(executors, "warm_up", lambda: None)
    cell = resolve_cell(
        "synthetic", {"n_train": 128, "n_val": 32, "n_test": 64, "epochs": 1}, "dense", {"multipliers": [1.0]}, 0
    )
    driver, worker = multiprocessing.Pipe()
    driver.send((cell, "cpu", 1, None))  # no training cache

    def die_after_ready() -> None:
        assert driver.recv() == "ready"
        driver.close()  # the driver is gone; the cell is still queued in the pipe

    dying = threading.Thread(target=die_after_ready)
    dying.start()
    executors._worker_main(worker, os.getppid())
    dying.join()
    assert capfd.readouterr().err == ""


def test_listing_and_help_load_no_torch() -> None:
    """What keeps `list`, `--help` and argument errors instant: none of them imports torch."""
    code = (
        "import sys, contextlib, io\n"
        "from tradeoff_bench.bench.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "    assert main(['list']) == 0\n"
        "    for args in (['--help'], ['run', '--bogus']):\n"
        "        try:\n"
        "            main(args)\n"
        "        except SystemExit:\n"
        "            pass\n"
        "print(sorted(m for m in ('torch', 'numpy', 'pandas') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_one_code_made_at_two_commits_is_one_version() -> None:
    same = [({"commit": "a" * 40, "code": "c0de"}, "r1"), ({"commit": "b" * 40, "code": "c0de"}, "r2")]
    assert code_versions(same) == {"aaaaaaa, bbbbbbb (code c0de)": {"r1", "r2"}}
    old = [({"commit": "a" * 40}, "r1"), ({"commit": "a" * 40, "dirty": True}, "r2"), ({"code": "c0de"}, "r3")]
    assert set(code_versions(old)) == {"aaaaaaa", "aaaaaaa+dirty", "no-git (code c0de)"}
