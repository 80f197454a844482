"""A cell that raises, one whose loss turns NaN, one past its time limit: each is a failed record
with its reason, and the grid completes."""

from dataclasses import dataclass
from pathlib import Path

import pytest

from tradeoff_bench.bench.cli import main
from tradeoff_bench.bench.store import Store
from tradeoff_bench.methods import METHODS, Method, RunContext
from tradeoff_bench.tasks import Task

TINY = "n_train = 128, n_val = 32, n_test = 64, epochs = 1"
NAN = "n_train = 512, n_val = 32, n_test = 64, epochs = 1, lr = 1e30"  # Adam at lr 1e30 diverges
ENDLESS = "n_train = 4096, n_val = 32, n_test = 64, epochs = 1000000"


@dataclass
class Boom(Method):
    description = "raises inside run"

    def run(self, task: Task, ctx: RunContext) -> list:
        raise RuntimeError("boom")


def grid(tmp_path: Path, tasks: list[str], methods: list[str]) -> Path:
    text = "seeds = [0]\n"
    text += "".join(f'[[tasks]]\nname = "synthetic"\nsettings = {{ {s} }}\n' for s in tasks)
    text += "".join(f"[[methods]]\n{m}\n" for m in methods)
    path = tmp_path / "grid.toml"
    path.write_text(text)
    return path


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main([*args, "--no-progress"])
    return code, capsys.readouterr().out


def errors(out: Path) -> list[str]:
    records = list(Store(out).records())
    assert len({r.cell_id for r in records}) == len(list((out / "cells").glob("*.json")))
    return sorted(r.error or "ok" for r in records)


def test_raising_and_nan_cells_are_failed_records_and_the_grid_completes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(METHODS, "_entries", {**METHODS._entries, "boom": Boom})  # in-process only
    path = grid(tmp_path, [TINY, NAN], ['name = "dense"\nsettings = { multipliers = [1.0] }', 'name = "boom"'])
    code, out = run(["run", str(path), "--out", str(tmp_path / "run")], capsys)
    assert code == 1 and "ran 4 of 4 cells" in out and out.strip().splitlines()[-1] == "3 cells failed."
    found = errors(tmp_path / "run")
    assert found[-1] == "ok"
    assert sum(e.startswith("RuntimeError: boom (at test_failing_cells.py:") for e in found) == 2
    # Adam at lr 1e30 overflows to inf or nan first depending on the CPU's kernels: either is non-finite
    assert (
        sum(e.startswith(("NonFiniteLossError: loss became nan", "NonFiniteLossError: loss became inf")) for e in found)
        == 1
    )


def test_a_cell_past_its_time_limit_is_stopped_and_the_grid_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = grid(tmp_path, [TINY, ENDLESS, NAN], ['name = "dense"\nsettings = { multipliers = [1.0] }'])
    code, out = run(["run", str(path), "--out", str(tmp_path / "run"), "--cell-timeout", "3"], capsys)
    assert code == 1 and "ran 3 of 3 cells" in out and out.strip().splitlines()[-1] == "2 cells failed."
    found = errors(tmp_path / "run")
    assert found[0].startswith("NonFiniteLossError") and found[1:] == ["TimeoutError: cell exceeded 3 s", "ok"]
