"""Executors run cells and hand back futures of their records; the driver stores them.

`LocalExecutor` runs cells in this process (jobs=1) or in a pool of worker processes. Every
executor only computes: records are written by the driver as results arrive, so workers need no
shared file system.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Protocol

from bench.grid import Cell
from bench.records import Record
from bench.runner import execute_cell


class Executor(Protocol):
    capacity: int
    """How many cells may be in flight at once."""

    def submit(self, cell: Cell) -> Future[list[Record]]: ...

    def close(self) -> None: ...


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


class LocalExecutor:
    """In-process for one job; a pool of spawned worker processes for several."""

    def __init__(self, jobs: int = 1, device: str = "cpu") -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be at least 1, got {jobs}")
        self.capacity = jobs
        self.device = device
        self._pool: ProcessPoolExecutor | None = None
        if jobs > 1:
            threads = max(1, (os.cpu_count() or 1) // jobs)
            self._pool = ProcessPoolExecutor(
                jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker, initargs=(threads,)
            )

    def submit(self, cell: Cell) -> Future[list[Record]]:
        if self._pool is not None:
            return self._pool.submit(execute_cell, cell, self.device)
        future: Future[list[Record]] = Future()
        future.set_result(execute_cell(cell, self.device))
        return future

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
