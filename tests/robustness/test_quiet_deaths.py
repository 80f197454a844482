"""kill -9 of the driver during a `--jobs 2` run: its worker processes end within a few seconds,
printing no traceback (a BrokenPipeError was one), whether they were starting up or running a cell."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli_args import TINY_SYNTHETIC
from tests.processes import SESSION, live_processes

REPO = Path(__file__).resolve().parents[2]
GRACE = 5.0
"""Seconds a worker may outlive its killed driver."""


def session_processes(sid: int) -> list[int]:
    """Live processes of session `sid` (the driver's, its workers and multiprocessing's helpers)."""
    return live_processes(SESSION, sid)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
@pytest.mark.parametrize("when", ["starting", "running a cell"])
def test_workers_of_a_killed_driver_end_quietly(tmp_path: Path, when: str) -> None:
    out, log = tmp_path / "run", tmp_path / "stderr"
    args = ["run", *TINY_SYNTHETIC, "--method", "dense", "--seeds", "0,1,2,3,4,5,6,7", "--jobs", "2"]
    with log.open("w") as stderr:
        driver = subprocess.Popen(
            [sys.executable, "-m", "tradeoff_bench.bench.cli", *args, "--out", str(out), "--no-progress"],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,  # the workers share its session: found again after it dies
        )
    deadline = time.monotonic() + 180
    while driver.poll() is None and time.monotonic() < deadline:
        started = "to run" in log.read_text()
        if (when == "starting" and started) or (when == "running a cell" and any((out / "cells").glob("*.json"))):
            break
        time.sleep(0.05)
    assert driver.poll() is None, log.read_text()
    assert len(session_processes(driver.pid)) >= 3, "the workers should be alive"
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    deadline = time.monotonic() + GRACE
    while session_processes(driver.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = session_processes(driver.pid)
    for pid in left:  # do not leave them to the next test
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes outlived their killed driver by {GRACE} s"
    assert "Traceback" not in log.read_text(), log.read_text()
