"""Executors run cells and hand back futures of their records; the driver stores them.

`LocalExecutor` runs cells in this process, or in worker processes when several run at once or
cells have a wall-clock limit (a process can be killed at its deadline; a thread cannot).
`bench.ray_executor.RayExecutor` runs each cell as a Ray task. Every executor only computes:
records are written by the driver as results arrive, so workers need no shared file system (the
training cache, `bench.cache`, which workers read and write themselves, is shared only where they share one).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import queue
import signal
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Protocol

from tradeoff_bench.bench import worker_guard
from tradeoff_bench.bench.grid import Cell
from tradeoff_bench.bench.runner import (
    TRAINING_LOG,
    execute_cell,
    failure_record,
    show_training_log,
    timeout_record,
    warm_up,
)
from tradeoff_bench.core.records import Record


class Executor(Protocol):
    capacity: int
    """How many cells may be in flight at once."""

    def submit(self, cell: Cell) -> Future[list[Record]]: ...

    def close(self) -> None: ...


class WorkerDiedError(RuntimeError):
    """The process running a cell ended without handing back its records."""


class LocalExecutor:
    """Cells on this machine: in this process for one job without a time limit, else in worker processes.

    `threads` is each cell's torch intra-op thread count: one by default, as on a Ray worker, so
    a cell's records do not depend on the executor or the machine's core count (parallelism comes
    from `jobs`, which suits models this small better). `cell_timeout` is each cell's wall-clock
    limit in seconds, after which its worker is killed and the cell recorded as failed. Worker
    processes import `plugins` (`bench.plugins`) before they take cells. `cache_dir` is the
    training cache every cell shares (`bench.cache`); None: none.
    """

    def __init__(
        self,
        jobs: int = 1,
        device: str = "cpu",
        *,
        threads: int = 1,
        cell_timeout: float | None = None,
        plugins: Sequence[str] = (),
        cache_dir: str | Path | None = None,
    ) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be at least 1, got {jobs}")
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        if cell_timeout is not None and not cell_timeout > 0:
            raise ValueError(f"cell_timeout must be positive, got {cell_timeout}")
        self.capacity = jobs
        self.device = device
        self.threads = threads
        self.cell_timeout = cell_timeout
        self.cache_dir = str(cache_dir) if cache_dir is not None else None
        self._pool = WorkerPool(jobs, cell_timeout, plugins) if jobs > 1 or cell_timeout is not None else None

    def submit(self, cell: Cell) -> Future[list[Record]]:
        if self._pool is not None:
            return self._pool.submit(cell, self.device, self.threads, self.cache_dir)
        future: Future[list[Record]] = Future()
        future.set_result(execute_cell(cell, self.device, self.threads, self.cache_dir))
        return future

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()


class WorkerPool:
    """`size` long-lived spawned worker processes, each fed by a thread of this process.

    Unlike `concurrent.futures.ProcessPoolExecutor`, one worker that dies or passes its cell's
    deadline is killed and replaced on its own: the other cells, and the pool, go on.
    """

    def __init__(self, size: int, cell_timeout: float | None = None, plugins: Sequence[str] = ()) -> None:
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closed = False
        self._slots = [_Slot(self._queue, cell_timeout, tuple(plugins)) for _ in range(size)]

    def submit(
        self, cell: Cell, device: str = "cpu", threads: int = 1, cache_dir: str | None = None
    ) -> Future[list[Record]]:
        if self._closed:
            raise RuntimeError("the worker pool is closed")
        future: Future[list[Record]] = Future()
        self._queue.put(_Job(future, cell, device, threads, cache_dir))
        return future

    def close(self) -> None:
        """Cancel queued cells, kill workers still running one, stop the idle ones."""
        self._closed = True
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.future.cancel()
        for _ in self._slots:
            self._queue.put(None)
        for slot in self._slots:
            slot.abort()
        for slot in self._slots:
            slot.join()


class _Job:
    __slots__ = ("cache_dir", "cell", "device", "future", "threads")

    def __init__(
        self, future: Future[list[Record]], cell: Cell, device: str, threads: int, cache_dir: str | None = None
    ) -> None:
        self.future, self.cell, self.device, self.threads = future, cell, device, threads
        self.cache_dir = cache_dir


class _Slot:
    """One worker process and the thread that hands it cells and waits for its records."""

    def __init__(
        self, jobs: queue.SimpleQueue[_Job | None], cell_timeout: float | None, plugins: tuple[str, ...]
    ) -> None:
        self._jobs = jobs
        self._timeout = cell_timeout
        self._plugins = plugins
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._busy = False
        self._aborted = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="bench-worker-slot", daemon=True)
        self._thread.start()

    def abort(self) -> None:
        """Kill the worker if it is running a cell (the driver is shutting down early)."""
        with self._lock:
            self._aborted = True
            if self._busy and self._process is not None:
                self._process.kill()

    def join(self) -> None:
        self._thread.join()

    def _loop(self) -> None:
        try:
            self._start()  # warm up (import torch, the registries) while the first cells queue
        except Exception:
            self._discard()
        while (job := self._jobs.get()) is not None:
            if not job.future.set_running_or_notify_cancel():
                continue
            with self._lock:
                self._busy = True
            try:
                job.future.set_result(self._run(job))
            except BaseException as err:
                job.future.set_exception(err)
            finally:
                with self._lock:
                    self._busy = False
        self._stop()

    def _run(self, job: _Job) -> list[Record]:
        try:
            if self._process is None:
                self._start()
            if self._aborted or self._conn is None:
                raise EOFError("the executor is closing")
            self._conn.send((job.cell, job.device, job.threads, job.cache_dir))
            if not self._conn.poll(self._timeout):
                self._discard()
                return [timeout_record(job.cell, self._timeout or 0.0)]
            return self._conn.recv()
        except (EOFError, OSError):
            reason = self._exit_reason()
            self._discard()
            return [failure_record(job.cell, WorkerDiedError(f"the worker process {reason}"))]

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        verbose = TRAINING_LOG.isEnabledFor(logging.INFO)  # a spawned worker shows training lines as this process does
        process = context.Process(
            target=worker_guard.main, args=(theirs, os.getpid(), self._plugins, verbose), name="bench-worker"
        )
        process.start()
        theirs.close()
        self._process, self._conn = process, ours
        if ours.recv() != "ready":
            raise EOFError("the worker process did not start")

    def _exit_reason(self) -> str:
        if self._process is None:
            return "did not start"
        self._process.join(timeout=1)
        code = self._process.exitcode
        if code is not None and code < 0:
            return f"was killed by {signal.Signals(-code).name}"
        return "died" if code is None else f"exited with status {code}"

    def _discard(self) -> None:
        """Kill the worker (if any); the next cell starts a fresh one."""
        with self._lock:
            process, conn = self._process, self._conn
            self._process = self._conn = None
        if process is not None:
            process.kill()
            process.join()
        if conn is not None:
            conn.close()

    def _stop(self) -> None:
        if self._conn is not None and self._process is not None:
            try:
                self._conn.send(None)
                self._process.join(timeout=5)
            except OSError:
                pass
        self._discard()


def _worker_main(conn: Connection, parent_pid: int, plugins: tuple[str, ...] = (), verbose: bool = False) -> None:
    """A worker's life: run the cells it is sent until told to stop or its driver is gone
    (`bench.worker_guard.main` has set up the guards that end it with its driver)."""
    from tradeoff_bench.bench.plugins import load_plugins

    if verbose:
        show_training_log()
    try:
        load_plugins(plugins)
        warm_up()
        conn.send("ready")
        while True:
            message = conn.recv()
            if message is None:
                return
            cell, device, threads, cache_dir = message
            records = execute_cell(cell, device, threads, cache_dir)
            try:
                conn.send(records)
            except (pickle.PicklingError, TypeError, AttributeError) as err:  # a fact that cannot travel
                conn.send([failure_record(cell, err)])
    except (EOFError, OSError):  # the driver is gone (killed): nobody is left to store the records
        return
