"""The grid driver: skip finished cells, claim the rest one by one, store records as they arrive.

The driver is the only writer of an output directory's files: executors hand records back, so
cells may run in worker processes or on other machines. Several drivers may share a directory;
the store's cell locks keep each cell to one of them.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field

from tradeoff_bench.bench.executors import Executor
from tradeoff_bench.bench.grid import Cell
from tradeoff_bench.bench.provenance import same_code
from tradeoff_bench.bench.runner import failure_record
from tradeoff_bench.bench.store import Store
from tradeoff_bench.core.records import NewerSchemaError, Record, SchemaError

OTHER_CORPUS = "other corpus"
"""A published cell's status (`bundle.published_cells`) where its records were made on another
version of a generated corpus than the one the grid would run on."""


@dataclass
class GridSummary:
    total: int
    finished_before: int = 0
    ran: int = 0
    failed: list[Record] = field(default_factory=list)
    made: list[Record] = field(default_factory=list)
    """The records of the candidates this invocation made (for the end-of-run lines)."""
    held_elsewhere: int = 0
    seconds: float = 0.0
    failed_earlier: int = 0
    """Finished cells of an earlier run that failed and were not run again."""
    stale: int = 0
    """Finished cells kept although their records were made by other code."""
    published: int = 0
    """Cells not run because a published report holds them (`run --continue-from`)."""
    other_corpus: int = 0
    """Cells a published report holds, run again because their records were made on another version
    of a generated corpus."""

    @property
    def failed_cells(self) -> int:
        """Cells of the grid whose latest run failed, in this invocation or an earlier one."""
        return len({r.cell_id for r in self.failed}) + self.failed_earlier

    def describe(self) -> str:
        if self.ran == 0 and self.held_elsewhere == 0:
            text = f"{self.total} cells, all finished earlier: nothing to train."
        else:
            parts = [f"ran {self.ran} of {self.total} cells in {self.seconds:.0f} s"]
            if self.finished_before:
                parts.append(f"{self.finished_before} finished earlier")
            if self.published:
                parts.append(f"{self.published} of them held by the published report")
            if self.held_elsewhere:
                parts.append(f"{self.held_elsewhere} left to another runner")
            text = "; ".join(parts) + "."
        if self.other_corpus:
            text += (
                f" {self.other_corpus} cells of the published report were made on another version of "
                "the corpus: they ran again."
            )
        if self.stale:
            text += (
                f" {self.stale} finished cells were made by other code than this checkout's: "
                "--rerun-stale runs them again."
            )
        return text

    def verdict(self) -> str:
        """The last line of a run: how many cells failed (the exit status is 1 when any did)."""
        if not self.failed_cells:
            return "0 cells failed."
        earlier = (
            f", {self.failed_earlier} of them in an earlier run (--retry-failed runs them again)"
            if self.failed_earlier
            else ""
        )
        return f"{self.failed_cells} cell{'s' if self.failed_cells != 1 else ''} failed{earlier}."


def run_grid(
    cells: list[Cell],
    store: Store,
    executor: Executor | Callable[[], Executor],
    *,
    retry_failed: bool = False,
    rerun_stale: bool = False,
    progress: bool = True,
    after_cells: Callable[[], object] | None = None,
    published: Mapping[str, str] | None = None,
) -> GridSummary:
    """Run every unfinished cell of `cells`, writing records to `store` as each cell completes.

    `executor` may be a factory, called only once there is a cell to run: a resumed grid with
    nothing left starts no worker processes and no Ray cluster. It is closed when the grid ends.
    A finished cell runs again when its records cannot be read (truncated, deleted), when it failed
    and `retry_failed` is set, or when other code made it and `rerun_stale` is set.
    A run folder or record of a newer schema stops the grid before anything is written
    (`NewerSchemaError`): it is not damaged, only unreadable to this suite.

    `after_cells` (the latency phase) runs once every cell's future is done and the executor is
    closed, so nothing trains beside it; it runs too when nothing was left to run.

    `published` (cell id -> "ok" / "failed" / `OTHER_CORPUS`, `bundle.published_cells`) holds the cells a published
    report already has, e.g. the part of a board an earlier session committed: they count as
    finished and are not run here (a failed one only runs again with `retry_failed`).
    """
    summary = GridSummary(total=len(cells))
    store.schema_version()  # a run folder of a newer suite is refused before anything is read or written
    seen = {c.cell_id: store.marker_state(c) for c in cells}  # first: a cell finished after this is noticed
    published = published or {}
    todo = deque(
        c
        for c in cells
        if _wanted_beside(published.get(c.cell_id), summary, retry_failed)
        and _wanted(store, c, summary, retry_failed, rerun_stale)
    )
    summary.finished_before = len(cells) - len(todo)
    if not todo:
        store.open()
    else:
        runner = executor() if callable(executor) else executor
        try:
            store.open()
            _run_cells(todo, seen, store, runner, summary, progress)
        finally:
            runner.close()
    if after_cells is not None:
        after_cells()
    return summary


def _run_cells(
    todo: deque[Cell],
    seen: dict[str, tuple[int, int] | None],
    store: Store,
    executor: Executor,
    summary: GridSummary,
    progress: bool,
) -> None:
    from tqdm import tqdm

    peers = sum(cell.is_peers for cell in todo)
    references = f" ({peers} of them score the tasks' reference systems, e.g. Silero VAD)" if peers else ""
    print(
        f"{summary.total} cells: {summary.finished_before} finished earlier, {len(todo)} to run{references}",
        file=sys.stderr,
    )
    started = time.perf_counter()
    pending: dict[Future[list[Record]], Cell] = {}
    held: deque[Cell] = deque()  # by another runner: looked at again once this one has nothing left
    second_look = False
    bar = tqdm(total=len(todo), unit="cell", disable=not progress, dynamic_ncols=True)  # done/total, ETA
    failed_now = 0
    try:
        while todo or pending or (held and not second_look):
            if not (todo or pending):  # the other runner may have died, or finished them
                todo, held, second_look = held, deque(), True
            while todo and len(pending) < executor.capacity:
                cell = todo.popleft()
                if not _claim(store, cell, seen[cell.cell_id]):
                    if second_look:
                        summary.held_elsewhere += 1  # another runner has it, or has finished it
                        bar.update()
                    else:
                        held.append(cell)
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
                try:
                    store.finish(cell, records)
                except BaseException:  # a full disk: no half-written cell stays behind, the error goes up
                    store.discard(cell)
                    raise
                finally:
                    store.unlock(cell)
                summary.ran += 1
                summary.failed += [r for r in records if r.status != "ok"]
                summary.made += [r for r in records if r.status == "ok"]
                failed_now += any(r.status != "ok" for r in records)
                bar.set_postfix(failed=failed_now, refresh=False)
                bar.update()
    finally:
        bar.close()
        for cell in pending.values():
            store.unlock(cell)
        summary.seconds = time.perf_counter() - started


def _claim(store: Store, cell: Cell, seen: tuple[int, int] | None) -> bool:
    """Lock a cell whose marker is still as it was when the grid started (absent, or a failure to
    retry). It is read again once the lock is held: another runner may have run the cell (writing
    its marker, then unlocking) since."""
    if store.marker_state(cell) != seen or not store.try_lock(cell):
        return False
    if store.marker_state(cell) != seen:
        store.unlock(cell)
        return False
    return True


def _wanted_beside(status: str | None, summary: GridSummary, retry_failed: bool) -> bool:
    """Whether a cell that a published report holds with `status` (None: it does not) is to be run."""
    if status == OTHER_CORPUS:
        summary.other_corpus += 1
        return True
    if status is None or (status == "failed" and retry_failed):
        return True
    summary.published += 1
    summary.failed_earlier += status == "failed"
    return False


def _wanted(store: Store, cell: Cell, summary: GridSummary, retry_failed: bool, rerun_stale: bool) -> bool:
    """Whether to run `cell` (counting in `summary` the finished cells that are kept as they are)."""
    status = store.status(cell)
    if status is None:
        return True
    try:
        records = store.cell_records(cell)
    except NewerSchemaError:  # written by a newer suite: not damaged, and never rewritten by this one
        raise
    except SchemaError as err:
        print(f"{cell.title}: {' '.join(str(err).split())}: running the cell again", file=sys.stderr)
        return True
    if status == "failed" and not retry_failed:
        summary.failed_earlier += 1
    elif status == "failed":
        return True
    if all(same_code(record.provenance, cell.plugin_code) for record in records):
        return False
    if rerun_stale:
        return True
    summary.stale += 1
    return False
