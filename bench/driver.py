"""The grid driver: skip finished cells, claim the rest one by one, store records as they arrive."""

from __future__ import annotations

import sys
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field

from bench.executors import Executor
from bench.grid import Cell
from bench.records import Record
from bench.runner import failure_record
from bench.store import Store


@dataclass
class GridSummary:
    total: int
    finished_before: int = 0
    ran: int = 0
    failed: list[Record] = field(default_factory=list)
    held_elsewhere: int = 0
    seconds: float = 0.0

    def describe(self) -> str:
        if self.ran == 0 and self.held_elsewhere == 0:
            return f"{self.total} cells, all finished earlier: nothing to train."
        parts = [f"ran {self.ran} of {self.total} cells in {self.seconds:.0f} s"]
        if self.finished_before:
            parts.append(f"{self.finished_before} finished earlier")
        if self.held_elsewhere:
            parts.append(f"{self.held_elsewhere} left to another runner")
        parts.append(f"{len(self.failed)} failed")
        return "; ".join(parts) + "."


def run_grid(
    cells: list[Cell], store: Store, executor: Executor, *, retry_failed: bool = False, progress: bool = True
) -> GridSummary:
    """Run every unfinished cell of `cells`, writing records to `store` as each cell completes."""
    from tqdm import tqdm

    store.open()
    summary = GridSummary(total=len(cells))
    todo = deque(c for c in cells if _wanted(store, c, retry_failed))
    summary.finished_before = len(cells) - len(todo)
    if not todo:
        return summary
    print(f"{len(cells)} cells: {summary.finished_before} finished earlier, {len(todo)} to run", file=sys.stderr)
    started = time.perf_counter()
    pending: dict[Future[list[Record]], Cell] = {}
    bar = tqdm(total=len(todo), unit="cell", disable=not progress, dynamic_ncols=True)
    try:
        while todo or pending:
            while todo and len(pending) < executor.capacity:
                cell = todo.popleft()
                if not _wanted(store, cell, retry_failed) or not store.try_lock(cell):
                    summary.held_elsewhere += 1  # another runner has it (or just finished it)
                    bar.update()
                    continue
                store.begin(cell)
                bar.set_description(cell.title)
                pending[executor.submit(cell)] = cell
            if not pending:
                continue
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                cell = pending.pop(future)
                try:
                    records = future.result()
                except Exception as err:  # the worker itself died (killed, out of memory)
                    records = [failure_record(cell, err)]
                store.finish(cell, records)
                store.unlock(cell)
                summary.ran += 1
                summary.failed += [r for r in records if r.status != "ok"]
                bar.update()
    finally:
        bar.close()
        for cell in pending.values():
            store.unlock(cell)
        executor.close()
    summary.seconds = time.perf_counter() - started
    return summary


def _wanted(store: Store, cell: Cell, retry_failed: bool) -> bool:
    status = store.status(cell)
    return status is None or (retry_failed and status == "failed")
