"""The first code a spawned worker process runs: torch-free, so that the guards that end a worker
with its driver are up before the worker spends seconds importing torch (`bench.executors`).

A driver killed with -9 leaves its workers nobody to hand records to: each ends at once (Linux) or
within about two seconds (elsewhere), quietly (no BrokenPipeError traceback).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from multiprocessing.connection import Connection

PR_SET_PDEATHSIG = 1
"""prctl(2) option: the signal this process gets when its parent dies."""


def main(conn: Connection, parent_pid: int, plugins: tuple[str, ...] = (), verbose: bool = False) -> None:
    """Set up the guards, then import the executor and run `_worker_main`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    signal.signal(signal.SIGTERM, _quiet_exit)
    _die_with_parent()
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()
    if os.getppid() != parent_pid:  # the driver died before the guards were up
        return
    from tradeoff_bench.bench.executors import _worker_main  # torch: seconds, guarded now

    _worker_main(conn, parent_pid, plugins, verbose)


def _die_with_parent() -> None:
    """Ask Linux to kill this worker the moment its driver dies (killed with -9 included): SIGKILL,
    which needs no Python code to run, so a worker starved of CPU or inside a long C call ends at
    once and silently. A worker only computes (the driver writes every record); a corpus it was
    generating leaves a hidden staging folder that the next generation removes. Elsewhere
    `_exit_with_parent` notices within half a second."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _quiet_exit(signum: int, frame: object) -> None:
    """SIGTERM (the driver died, or someone asked): end without a traceback, `finally` blocks run
    (a corpus half-generated in this worker removes its staging folder). Once only: a second
    SIGTERM (the watch thread's) during the exit would print from inside an atexit hook."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise SystemExit(0)


def _exit_with_parent(parent_pid: int) -> None:
    """End this worker once its driver is gone (killed), instead of finishing a cell nobody stores:
    SIGTERM first (`_quiet_exit`), and two seconds later at once, whatever it is doing."""
    while os.getppid() == parent_pid:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(2)
    os._exit(1)
