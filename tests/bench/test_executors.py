"""Local executors: in-process and worker processes give the same records; a worker past its time
limit, or killed, costs only its own cell."""

import os
import signal
import time
from concurrent.futures import Future
from pathlib import Path

import pytest

from tradeoff_bench.bench.driver import run_grid
from tradeoff_bench.bench.executors import LocalExecutor, WorkerPool
from tradeoff_bench.bench.grid import Cell, resolve_cell
from tradeoff_bench.bench.store import Store
from tradeoff_bench.core.records import Record

TINY = {"n_train": 128, "n_val": 32, "n_test": 64, "epochs": 1}
ENDLESS = {"n_train": 4096, "n_val": 32, "n_test": 64, "epochs": 1_000_000}
TIMING = {"train_seconds", "cell_seconds", "latency_ms", "provenance"}


def cell(task_settings: dict, seed: int = 0) -> Cell:
    return resolve_cell("synthetic", task_settings, "dense", {"multipliers": [0.5, 1.0]}, seed)


def figures(records: list[Record]) -> list[dict]:
    return [{k: v for k, v in r.to_dict().items() if k not in TIMING} for r in records]


def test_in_process_executor_runs_on_submit_with_the_threads_it_was_given() -> None:
    import torch

    before = torch.get_num_threads()
    executor = LocalExecutor(1, threads=2)
    future = executor.submit(cell(TINY))
    assert future.done()
    records = future.result()
    assert [r.status for r in records] == ["ok", "ok"]
    assert {r.provenance["threads"] for r in records} == {2}
    assert torch.get_num_threads() == before
    executor.close()


def test_worker_processes_match_in_process_and_survive_a_timeout_and_a_killed_worker() -> None:
    """One pool, three events: a normal cell, a cell stopped at its limit, a worker killed mid-cell."""
    expected = figures(LocalExecutor(1, threads=1).submit(cell(TINY)).result())
    pool = WorkerPool(1, cell_timeout=4)
    try:
        assert figures(pool.submit(cell(TINY), "cpu", 1).result(timeout=120)) == expected

        started = time.perf_counter()
        (timed_out,) = pool.submit(cell(ENDLESS), "cpu", 1).result(timeout=120)
        assert timed_out.status == "failed" and timed_out.error == "TimeoutError: cell exceeded 4 s"
        assert 4 <= time.perf_counter() - started < 60

        killed: Future[list[Record]] = pool.submit(cell(ENDLESS, seed=1), "cpu", 1)
        _kill_the_worker_once_it_runs(pool)
        (died,) = killed.result(timeout=120)
        assert died.status == "failed" and died.error == "WorkerDiedError: the worker process was killed by SIGKILL"
    finally:
        pool.close()


def test_close_kills_a_running_cell_and_cancels_queued_ones() -> None:
    pool = WorkerPool(1)
    running = pool.submit(cell(ENDLESS), "cpu", 1)
    queued = pool.submit(cell(TINY), "cpu", 1)
    _kill_the_worker_once_it_runs(pool, kill=False)
    started = time.perf_counter()
    pool.close()
    assert time.perf_counter() - started < 30
    assert queued.cancelled()
    assert running.done() and running.result()[0].status == "failed"


def test_a_resumed_grid_with_nothing_left_starts_no_executor(tmp_path: Path) -> None:
    cells = [cell(TINY)]
    made: list[LocalExecutor] = []

    def make() -> LocalExecutor:
        made.append(LocalExecutor(1, threads=1))
        return made[-1]

    assert run_grid(cells, Store(tmp_path), make, progress=False).ran == 1
    assert run_grid(cells, Store(tmp_path), make, progress=False).finished_before == 1
    assert len(made) == 1


def test_bad_executor_arguments_are_rejected() -> None:
    for kwargs in ({"jobs": 0}, {"threads": 0}, {"cell_timeout": 0}, {"cell_timeout": -1.0}):
        with pytest.raises(ValueError):
            LocalExecutor(**kwargs)


def _kill_the_worker_once_it_runs(pool: WorkerPool, kill: bool = True) -> None:
    """Wait until the pool's worker is busy with a cell (and a moment into it), then SIGKILL it."""
    slot = pool._slots[0]
    deadline = time.monotonic() + 120
    while not (slot._busy and slot._process is not None and slot._conn is not None):
        assert time.monotonic() < deadline, "the worker never started the cell"
        time.sleep(0.05)
    time.sleep(1.0)
    if kill:
        os.kill(slot._process.pid, signal.SIGKILL)
