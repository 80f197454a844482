"""Bad inputs to `tradeoff-bench run`: one clear `error:` line each, exit status 2, nothing written."""

import dataclasses
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tradeoff_bench.bench.cli import main
from tradeoff_bench.core.registry import SettingError
from tradeoff_bench.tasks import TASKS
from tradeoff_bench.tasks.synthetic import SyntheticTask

TASK = '[[tasks]]\nname = "synthetic"\n'
METHOD = '[[methods]]\nname = "dense"\n'

BAD_GRIDS = {
    "not TOML": ("seeds = [0", "is not valid TOML"),
    "empty": ("", "at least one [[tasks]]"),
    "no methods": (TASK, "at least one [[methods]]"),
    "unknown top-level key": ("seed = [0]\n" + TASK + METHOD, "Did you mean: seeds"),
    "seeds not integers": ('seeds = ["a"]\n' + TASK + METHOD, "'seeds' must be a non-empty list of integers"),
    "entry without a name": ("[[tasks]]\nsettings = {}\n" + METHOD, "needs a name"),
    "unknown task": ('[[tasks]]\nname = "synthetc"\n' + METHOD, "Did you mean: synthetic"),
    "unknown method": (TASK + '[[methods]]\nname = "dens"\n', "Did you mean: dense"),
    "unknown task in a method's tasks": (TASK + METHOD + 'tasks = ["synthetc"]\n', "Did you mean: synthetic"),
    "unknown setting": (TASK + METHOD + "settings = { multiplier = [1.0] }\n", "Did you mean: multipliers"),
    "setting of the wrong type": (TASK + 'settings = { epochs = "many" }\n' + METHOD, "epochs"),
    "setting out of range": (TASK + "settings = { teacher_width = 100 }\n" + METHOD, "teacher_width"),
    "method setting out of range": (TASK + METHOD + "settings = { multipliers = [2.0] }\n", "multipliers"),
    "sweep not a list": (TASK + METHOD + "sweep = { epochs = 3 }\n", "sweep 'epochs' must be a non-empty list"),
    "settings not a table": (TASK + "settings = 3\n" + METHOD, "'settings' must be a table"),
}

BAD_FLAGS = {
    "no jobs": (["--jobs", "0"], "--jobs must be at least 1"),
    "zero time limit": (["--cell-timeout", "0"], "--cell-timeout must be a positive number"),
    "negative time limit": (["--cell-timeout", "-5"], "--cell-timeout must be a positive number"),
    "no cpus": (["--cpus-per-cell", "0"], "--cpus-per-cell must be positive"),
    "part of a cpu, locally": (["--cpus-per-cell", "1.5"], "must be whole"),
    "negative gpus": (["--gpus-per-cell", "-1"], "--gpus-per-cell must be 0 or more"),
    "ray address without ray": (["--ray-address", "auto"], "--ray-address needs --executor ray"),
    "seeds not integers": (["--seeds", "0,x"], "--seeds"),
}


def run(args: list[str], out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """The one error line of a run that must fail before writing anything under `out`."""
    code = main([*args, "--out", str(out), "--no-progress"])
    stdout, stderr = capsys.readouterr()
    lines = stderr.strip().splitlines()
    assert code == 2 and not stdout
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert not out.exists(), "a failed run wrote something"
    return lines[0]


@pytest.mark.parametrize("case", BAD_GRIDS)
def test_malformed_grid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    text, message = BAD_GRIDS[case]
    grid = tmp_path / "grid.toml"
    grid.write_text(text)
    assert message in run(["run", str(grid)], tmp_path / "out", capsys)


@pytest.mark.parametrize("path", ["missing.toml", "."])
def test_grid_path_that_is_no_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], path: str) -> None:
    assert "error: " in run(["run", str(tmp_path / path)], tmp_path / "out", capsys)


@pytest.mark.parametrize("case", BAD_FLAGS)
def test_bad_run_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    flags, message = BAD_FLAGS[case]
    args = ["run", "--task", "synthetic", "--method", "dense", "--task-set", "epochs=1", *flags]
    assert message in run(args, tmp_path / "out", capsys)


def test_ray_executor_without_ray_installed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    line = run(["run", "--task", "synthetic", "--method", "dense", "--executor", "ray"], tmp_path / "out", capsys)
    assert "install the ray extra: `make setup` puts it in .venv" in line


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("127.0.0.1:1", "cannot reach the Ray cluster at '127.0.0.1:1'"),  # nobody listens: fails in seconds
        ("ray://127.0.0.1:10001", "Ray Client addresses (ray://127.0.0.1:10001) are not supported"),
    ],
)
def test_unusable_ray_address(tmp_path: Path, capsys: pytest.CaptureFixture[str], address: str, message: str) -> None:
    pytest.importorskip("ray")
    args = ["run", "--task", "synthetic", "--method", "dense", "--executor", "ray", "--ray-address", address]
    assert message in run(args, tmp_path / "out", capsys)


def test_gpus_without_a_cuda_device(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    args = ["run", "--task", "synthetic", "--method", "dense", "--gpus-per-cell", "1"]
    assert "needs a CUDA device" in run(args, tmp_path / "out", capsys)


# --- unwritable output -------------------------------------------------------------------------
def test_output_under_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("")
    code = main(
        [
            "run",
            "--task",
            "synthetic",
            "--method",
            "dense",
            "--task-set",
            "epochs=1",
            "--out",
            str(tmp_path / "file" / "out"),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "not writable" in err[0]
    assert (tmp_path / "file").read_text() == ""


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_output_in_a_read_only_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o500)
    try:
        line = run(["run", "--task", "synthetic", "--method", "dense"], tmp_path / "ro" / "out", capsys)
    finally:
        (tmp_path / "ro").chmod(0o700)
    assert "not writable" in line


# --- missing data roots ------------------------------------------------------------------------
def root_settings(task: str) -> list[str]:
    return [f.name for f in dataclasses.fields(TASKS.get(task)) if f.name == "root" or f.name.endswith("_root")]


@pytest.mark.parametrize("task", [name for name in TASKS.names() if root_settings(name)])
def test_registered_task_with_missing_data_roots(tmp_path: Path, capsys: pytest.CaptureFixture[str], task: str) -> None:
    """A task setting naming a data folder is checked when the task is configured, before any cell runs."""
    missing = tmp_path / "no-such-corpus"
    settings = [f"{setting}={missing}" for setting in root_settings(task)]
    if "data_dir" in {f.name for f in dataclasses.fields(TASKS.get(task))}:
        settings.append(f"data_dir={tmp_path / 'data'}")  # were the check missing: generate nothing here
    args = ["run", "--task", task, "--method", "dense", *(f for s in settings for f in ("--task-set", s))]
    assert str(missing) in run(args, tmp_path / "out", capsys)


@dataclass
class RootedTask(SyntheticTask):
    """The synthetic task reading from a data folder, the way a corpus task checks its root."""

    root: str = "."
    strict: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if not Path(self.root).is_dir():
            if self.strict:
                raise SettingError(f"root {self.root}: no such folder")
            Path(self.root).joinpath("corpus.json").read_text()  # a task that lets the OSError through


@pytest.mark.parametrize("strict", [True, False])
def test_a_missing_data_root_is_caught_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, strict: bool
) -> None:
    monkeypatch.setattr(TASKS, "_entries", {**TASKS._entries, "rooted": RootedTask})
    missing = tmp_path / "no-such-corpus"
    args = [
        "run",
        "--task",
        "rooted",
        "--method",
        "dense",
        "--task-set",
        f"root={missing}",
        "--task-set",
        f"strict={str(strict).lower()}",
    ]
    assert str(missing) in run(args, tmp_path / "out", capsys)
