"""Training history kept per candidate: `train.csv` in its outputs folder, and `run -v` progress lines
from the driver's process and from worker processes."""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

import pytest

from tradeoff_bench.bench.executors import LocalExecutor
from tradeoff_bench.bench.grid import Cell, resolve_cell
from tradeoff_bench.bench.history import history_csv
from tradeoff_bench.bench.runner import TRAINING_LOG, execute_cell, show_training_log
from tradeoff_bench.bench.store import Store

TINY = {"n_train": 128, "n_val": 32, "n_test": 64, "epochs": 2}


def dense_cell(seed: int = 0) -> Cell:
    return resolve_cell("synthetic", TINY, "dense", {"multipliers": [1.0]}, seed)


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_history_csv_numbers_phases_and_flattens_widths() -> None:
    history = [
        {"epoch": 1, "loss": 0.5, "dev": 2.0, "widths": {"h": 8}, "selected": False},
        {"epoch": 2, "loss": 0.4, "dev": 1.0, "widths": {"h": 8}, "selected": True},
        {"epoch": 1, "loss": 0.3, "dev": 1.5, "selected": False},
    ]
    table = rows(history_csv(history))
    assert [r["phase"] for r in table] == ["1", "1", "2"]
    assert [r["widths.h"] for r in table] == ["8", "8", ""]
    assert [r["selected"] for r in table] == ["False", "True", "False"]


def test_a_stored_candidate_keeps_its_train_csv(tmp_path: Path) -> None:
    cell = dense_cell()
    (record,) = execute_cell(cell)
    store = Store(tmp_path).open()
    store.finish(cell, [record])
    (path,) = [p for p in record.outputs if p.endswith("train.csv")]
    table = rows((tmp_path / path).read_text())
    assert [r["epoch"] for r in table] == ["1", "2"]
    assert [r["selected"] == "True" for r in table].count(True) == 1
    assert int(table[record.facts["selected_epoch"] - 1]["epoch"]) == record.facts["selected_epoch"]
    assert isinstance(record.facts["converged"], bool)


@pytest.fixture
def verbose(capfd: pytest.CaptureFixture[str]) -> object:
    """`run -v`, its handler on the stderr that `capfd` captures."""
    level, handlers = TRAINING_LOG.level, list(TRAINING_LOG.handlers)
    show_training_log()
    yield
    TRAINING_LOG.setLevel(level)
    TRAINING_LOG.handlers[:] = handlers
    assert handlers == [] and not TRAINING_LOG.isEnabledFor(logging.INFO), "training lines are silent without -v"


def test_training_lines_reach_stderr_in_process_and_from_worker_processes(
    verbose: object, capfd: pytest.CaptureFixture[str]
) -> None:
    LocalExecutor(1).submit(dense_cell(0)).result()
    pool = LocalExecutor(2)
    try:
        pool.submit(dense_cell(1)).result(timeout=300)
    finally:
        pool.close()
    err = capfd.readouterr().err
    for seed in (0, 1):
        assert f"[synthetic/dense seed={seed} " in err
        assert err.count(f"seed={seed} ") >= 2 and "epoch 2/2 loss" in err
