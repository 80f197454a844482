"""The same cell twice gives the same metrics and MACs, bit for bit, on CPU: in this process, after
other cells have run in it, and in a worker process."""

import pytest

from tradeoff_bench.bench.executors import WorkerPool
from tradeoff_bench.bench.grid import Cell, resolve_cell
from tradeoff_bench.bench.runner import execute_cell
from tradeoff_bench.core.records import Record

TIMING = {"train_seconds", "cell_seconds", "latency_ms", "provenance"}
"""What a re-run may change: wall-clock figures and where/when it ran."""

MLP = {"n_train": 256, "n_val": 32, "n_test": 64, "epochs": 2}
CONV = {"model": "conv", "depth": 2, "n_train": 128, "n_val": 32, "n_test": 64, "epochs": 2, "max_width": 16}


def cell(task_settings: dict, seed: int = 3) -> Cell:
    return resolve_cell("synthetic", task_settings, "dense", {"multipliers": [0.25, 1.0]}, seed)


def figures(records: list[Record]) -> list[dict]:
    assert records and all(r.status == "ok" for r in records), [r.error for r in records]
    return [{k: v for k, v in r.to_dict().items() if k not in TIMING} for r in records]


@pytest.mark.parametrize(("settings", "threads"), [(MLP, 1), (CONV, 1), (MLP, 2)], ids=["mlp", "conv", "mlp-2-threads"])
def test_same_cell_twice_in_process(settings: dict, threads: int) -> None:
    first = figures(execute_cell(cell(settings), "cpu", threads))
    execute_cell(cell(settings, seed=4), "cpu", threads)  # other work in between moves every global RNG
    again = figures(execute_cell(cell(settings), "cpu", threads))
    assert again == first
    assert all(isinstance(f["macs"], int) and f["metrics"] for f in first)


def test_same_cell_in_a_worker_process() -> None:
    cells = [cell(MLP), cell(CONV)]
    expected = [figures(execute_cell(c, "cpu", 1)) for c in cells]
    pool = WorkerPool(1)
    try:
        assert [figures(pool.submit(c, "cpu", 1).result(timeout=120)) for c in cells] == expected
    finally:
        pool.close()


def test_different_seeds_differ() -> None:
    """The comparison above can fail: a different seed gives different metrics."""
    assert figures(execute_cell(cell(MLP, seed=0), "cpu", 1)) != figures(execute_cell(cell(MLP, seed=1), "cpu", 1))
