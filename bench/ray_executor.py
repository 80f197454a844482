"""Cells as Ray tasks, for grids that outgrow one machine.

`ray` is an optional extra (in .venv after `make setup`; elsewhere `pip install 'tradeoff-bench[ray]'`), imported only here. The executor
joins a running cluster by address (`auto`, the head's `host:6379`, or `RAY_ADDRESS`) or starts
a local one. Each cell is one task declaring its CPUs and GPUs; workers only compute and
hand the records back, and the driver writes them, so nodes need the package (installed, or
shipped in the job's runtime_env) and the tasks' data, but no shared file system. The training
cache (`cache_dir`, `bench.cache`) is the exception: workers read and write it themselves, so it
is shared between nodes only where its path is on a file system they share (else each node keeps
its own, at that path).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from typing import Any

from tradeoff_bench.bench.errors import ExecutorError
from tradeoff_bench.bench.grid import Cell
from tradeoff_bench.bench.runner import execute_cell, timeout_record, warm_up
from tradeoff_bench.core.records import Record

RAY_EXTRA = "install the ray extra: `make setup` puts it in .venv (elsewhere: pip install 'tradeoff-bench[ray]')"


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ExecutorError(f"the ray executor needs Ray; {RAY_EXTRA}") from None
    return ray


def start_local_ray(num_cpus: int | None = None, num_gpus: int | None = None) -> None:
    """Start a quiet local Ray instance for this process: no dashboard, worker output not forwarded."""
    import_ray().init(
        num_cpus=num_cpus,
        num_gpus=num_gpus,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
    )


class RayExecutor:
    """One Ray task per cell with `cpus_per_cell` CPUs and `gpus_per_cell` GPUs.

    Uses the Ray instance this process is already connected to, else connects to `address` (or
    `RAY_ADDRESS`), else starts a local one; only what it started or connected itself is shut down
    in `close`. `capacity` (cells in flight) is `jobs`, or what the cluster holds at once. A cell
    still running `cell_timeout` seconds after it started on its worker (a fresh worker's
    start-up is not counted) is cancelled, its worker killed, and recorded as failed.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        cpus_per_cell: float = 1,
        gpus_per_cell: float = 0,
        cell_timeout: float | None = None,
        jobs: int | None = None,
        plugins: Sequence[str] = (),
        cache_dir: str | None = None,
    ) -> None:
        if not cpus_per_cell > 0 or gpus_per_cell < 0:
            raise ValueError(f"need cpus_per_cell > 0 and gpus_per_cell >= 0, got {cpus_per_cell}, {gpus_per_cell}")
        if cell_timeout is not None and not cell_timeout > 0:
            raise ValueError(f"cell_timeout must be positive, got {cell_timeout}")
        if jobs is not None and jobs < 1:
            raise ValueError(f"jobs must be at least 1, got {jobs}")
        self._ray = ray = import_ray()
        self._connected_here = not ray.is_initialized()
        if self._connected_here:
            _connect(ray, address or os.environ.get("RAY_ADDRESS"))
        self.device = "cuda" if gpus_per_cell > 0 else "cpu"
        self.threads = max(1, int(cpus_per_cell))
        self.cell_timeout = cell_timeout
        self.plugins = tuple(plugins)
        self.cache_dir = cache_dir
        try:
            self.capacity = jobs or _cluster_capacity(ray.cluster_resources(), cpus_per_cell, gpus_per_cell)
        except ExecutorError:
            self._disconnect()
            raise
        self._task = ray.remote(num_cpus=cpus_per_cell, num_gpus=gpus_per_cell, max_retries=0, num_returns="streaming")(
            _cell_task
        )
        self._running: dict[Future[list[Record]], Any] = {}
        """Future -> the generator of its Ray task, for cells not finished yet."""

    def submit(self, cell: Cell) -> Future[list[Record]]:
        generator = self._task.remote(cell, self.device, self.threads, self.plugins, self.cache_dir)
        future: Future[list[Record]] = Future()
        self._running[future] = generator
        future.add_done_callback(lambda done: self._running.pop(done, None))
        threading.Thread(target=self._watch, args=(generator, cell, future), daemon=True).start()
        return future

    def close(self) -> None:
        """Cancel cells still running (an interrupted grid); disconnect if this executor connected."""
        for generator in list(self._running.values()):
            self._ray.cancel(generator, force=True)
        self._running.clear()
        self._disconnect()

    def _watch(self, generator: Any, cell: Cell, future: Future[list[Record]]) -> None:
        """Wait for the cell to start on its worker, then (up to the time limit) for its records."""
        ray = self._ray
        try:
            ray.get(next(generator))
            if self.cell_timeout is not None and not ray.wait([generator], timeout=self.cell_timeout)[0]:
                ray.cancel(generator, force=True)
                future.set_result([timeout_record(cell, self.cell_timeout)])
                return
            future.set_result(ray.get(next(generator)))
        except Exception as err:  # the worker died or the cell was cancelled: the driver records it
            future.set_exception(err)

    def _disconnect(self) -> None:
        if self._connected_here and self._ray.is_initialized():
            self._ray.shutdown()


def _cell_task(
    cell: Cell, device: str, threads: int, plugins: tuple[str, ...] = (), cache_dir: str | None = None
) -> Iterator[list[Record] | None]:
    """One cell on a Ray worker: says it has started (once warmed up), then hands back the records.
    The worker imports the driver's plugins first (plugin files at the same path on every node)."""
    from tradeoff_bench.bench.plugins import load_plugins

    load_plugins(plugins)
    warm_up()
    yield None
    yield execute_cell(cell, device, threads, cache_dir)


def _connect(ray: Any, address: str | None) -> None:
    if address is None:
        start_local_ray()
        return
    if address.startswith("ray://"):
        raise ExecutorError(
            f"Ray Client addresses ({address}) are not supported: run the driver on a cluster node "
            "(--ray-address auto) or submit it with `ray job submit`"
        )
    _check_reachable(address)
    try:
        ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
    except (ConnectionError, RuntimeError, ValueError) as err:
        hint = " (a cluster with token authentication also needs RAY_AUTH_MODE=token here)" if address != "auto" else ""
        said = str(err).replace("--address", "--ray-address")  # Ray's own advice names its CLI's flag, not ours
        raise ExecutorError(f"cannot connect to the Ray cluster at {address!r}: {said}{hint}") from None


def _check_reachable(address: str) -> None:
    """Fail in seconds on a host:port nobody listens on (Ray itself retries for minutes)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", "local": Ray looks the cluster up itself, and quickly
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as err:
        raise ExecutorError(f"cannot reach the Ray cluster at {address!r}: {err.strerror or err}") from None


def _cluster_capacity(resources: dict[str, float], cpus_per_cell: float, gpus_per_cell: float) -> int:
    """How many cells the cluster runs at once; an error if it has none of a resource a cell needs."""
    needs = {"CPU": cpus_per_cell, "GPU": gpus_per_cell}
    fits = []
    for name, need in needs.items():
        if need > 0:
            have = resources.get(name, 0)
            if have < need:
                raise ExecutorError(
                    f"each cell asks for {need:g} {name} but the Ray cluster has {have:g} "
                    f"(pass --jobs to submit anyway, e.g. to an autoscaling cluster)"
                )
            fits.append(int(have // need))
    return max(1, min(fits))
