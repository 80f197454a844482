"""An output directory stays whole: kill -9 at random points then resume, and two runners at once.

Whatever happens, a finished grid holds every cell exactly once, every record a marker lists is
there and parses, no record belongs to no marker, and no temp or lock file is left behind.
"""

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import Future
from pathlib import Path

import pytest

from tests.processes import PARENT, live_processes
from tradeoff_bench.bench.driver import run_grid
from tradeoff_bench.bench.grid import Cell, load_grid
from tradeoff_bench.bench.store import Store
from tradeoff_bench.core.records import Record

REPO = Path(__file__).resolve().parents[2]

GRID = """
seeds = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
[[tasks]]
name = "synthetic"
settings = { n_train = 2048, n_val = 32, n_test = 64, epochs = 25 }
[[methods]]
name = "dense"
settings = { multipliers = [0.5, 1.0] }
"""
LABELS = 2  # candidates per cell


def grid_file(tmp_path: Path) -> tuple[Path, list[Cell]]:
    path = tmp_path / "grid.toml"
    path.write_text(GRID)
    return path, load_grid(path)


def command(grid: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tradeoff_bench.bench.cli",
        "run",
        str(grid),
        "--out",
        str(out),
        "--no-progress",
        *extra,
    ]


def assert_every_cell_exactly_once(out: Path, cells: list[Cell]) -> None:
    found = {p.stem: json.loads(p.read_text()) for p in (out / "cells").glob("*.json")}
    assert sorted(found) == sorted(c.cell_id for c in cells)
    records = list(Store(out).records())  # parses every listed record; a torn or missing one raises
    ids = [r.record_id for r in records]
    assert len(ids) == len(set(ids)) == LABELS * len(cells)
    assert all(r.status == "ok" for r in records), [r.error for r in records if r.error]
    assert all(r.record_id in found[r.cell_id]["records"] for r in records)
    on_disk = sorted(p.name for p in (out / "records").iterdir())  # hidden temp files included
    assert on_disk == sorted(f"{i}.json" for i in ids), "a stray record or temp file"
    for path in (out / "records").iterdir():
        json.loads(path.read_text())
    leftovers = [p.name for p in out.rglob("*") if p.suffix in (".tmp", ".lock") or p.name.startswith(".")]
    assert not leftovers


def test_kill_9_at_random_points_then_resume(tmp_path: Path) -> None:
    """Three SIGKILLs (one with worker processes alive), each after a random number of finished cells
    and a random delay; then one run to the end."""
    seed = int.from_bytes(os.urandom(4), "little")
    rng = random.Random(seed)
    grid, cells = grid_file(tmp_path)
    out = tmp_path / "out"
    interrupted = 0
    for extra in ((), ("--jobs", "2"), ()):
        before = markers_now(out)
        target = min(len(cells), before + rng.randint(1, 3))
        proc = subprocess.Popen(
            command(grid, out, *extra), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 120
        while proc.poll() is None and markers_now(out) < target and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.3))
        workers = _children(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        interrupted += markers_now(out) < len(cells)
        _assert_gone(workers, f"seed {seed}: worker processes outlived their killed driver")
    assert interrupted >= 2, f"seed {seed}: the kills should land mid-grid"
    done = subprocess.run(command(grid, out), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert_every_cell_exactly_once(out, cells)


def test_two_runners_on_one_directory_share_the_cells(tmp_path: Path) -> None:
    grid, cells = grid_file(tmp_path)
    out = tmp_path / "out"
    procs = [
        subprocess.Popen(command(grid, out), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], [err for _, err in outputs]
    ran = [int(m.group(1)) if (m := re.search(r"ran (\d+) of", stdout)) else 0 for stdout, _ in outputs]
    assert sum(ran) == len(cells), f"cells run twice or never: {ran}"
    assert_every_cell_exactly_once(out, cells)


def test_racing_drivers_claim_every_cell_once(tmp_path: Path) -> None:
    """Eight drivers (threads, each with its own Store) race through one grid of 200 instant cells."""
    cells = [Cell("synthetic", {}, "dense", {"i": i}, 0) for i in range(200)]
    submitted: Counter[str] = Counter()
    lock = threading.Lock()

    class Instant:
        capacity = 2

        def submit(self, cell: Cell) -> Future[list[Record]]:
            with lock:
                submitted[cell.cell_id] += 1
            future: Future[list[Record]] = Future()
            future.set_result([Record(cell.cell_id, "synthetic", "c", "dense", 0, label, "ok") for label in ("a", "b")])
            return future

        def close(self) -> None:
            pass

    threads = [
        threading.Thread(target=run_grid, args=(cells, Store(tmp_path), Instant()), kwargs={"progress": False})
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert submitted == Counter({c.cell_id: 1 for c in cells})
    assert_every_cell_exactly_once(tmp_path, cells)


@pytest.mark.parametrize("other_runner_dies", [True, False])
def test_cells_held_by_a_runner_that_dies_are_run_by_the_survivor(tmp_path: Path, other_runner_dies: bool) -> None:
    """Cells another runner holds are looked at again at the end: free by then (it died), they are run here."""
    cells = [Cell("synthetic", {}, "dense", {"i": i}, 0) for i in range(3)]
    other = Store(tmp_path).open()
    assert other.try_lock(cells[0])

    class Instant:
        capacity = 1

        def submit(self, cell: Cell) -> Future[list[Record]]:
            if other_runner_dies and cell == cells[2]:
                other.unlock(cells[0])  # its process ended: the kernel dropped its lock
            future: Future[list[Record]] = Future()
            future.set_result([Record(cell.cell_id, "synthetic", "c", "dense", 0, label, "ok") for label in "ab"])
            return future

        def close(self) -> None:
            pass

    summary = run_grid(cells, Store(tmp_path), Instant(), progress=False)
    assert (summary.ran, summary.held_elsewhere) == ((3, 0) if other_runner_dies else (2, 1))
    if other_runner_dies:
        assert_every_cell_exactly_once(tmp_path, cells)


def markers_now(out: Path) -> int:
    return len(list((out / "cells").glob("*.json"))) if (out / "cells").is_dir() else 0


def _children(pid: int) -> list[int]:
    """Live child processes of `pid` (a driver's worker processes)."""
    return live_processes(PARENT, pid)


def _assert_gone(pids: list[int], message: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if _running(pid)]
        time.sleep(0.1)
    assert not alive, message


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
