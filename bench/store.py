"""The record store: one JSON file per candidate, written atomically, found again by cell id.

Layout of an output directory::

    records/<cell_id>-<label>.json   one per candidate (or one `-failed` record per failed cell)
    cells/<cell_id>.json             written last: the cell is finished, and which records it made
    cells/<cell_id>.lock             held while a runner works on the cell

A cell counts as finished only once its marker exists, so a run killed at any point leaves at
worst an unfinished cell, whose stray records are removed and redone on the next run. Two runners
on one directory never run the same cell at once: a lock is created exclusively, and a lock whose
process is gone is taken over.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.grid import Cell
from bench.records import Record, SchemaError

HOST = socket.gethostname()


class StoreError(OSError):
    """The output directory cannot be used."""


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to `path` via a temp file in the same directory and a rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=1, sort_keys=True, allow_nan=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Store:
    """Records and cell markers under one output directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.records_dir = self.root / "records"
        self.cells_dir = self.root / "cells"

    def open(self) -> Store:
        """Create the directories (checking they are writable) and clear dead runners' leftovers."""
        try:
            for folder in (self.records_dir, self.cells_dir):
                folder.mkdir(parents=True, exist_ok=True)
                probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".probe.", delete=True)
                probe.close()
        except OSError as err:
            raise StoreError(f"output directory {self.root} is not writable: {err.strerror or err}") from None
        self._remove_orphan_temp_files()
        return self

    # --- cells ------------------------------------------------------------------------------
    def is_finished(self, cell: Cell) -> bool:
        return self._marker(cell.cell_id).exists()

    def status(self, cell: Cell) -> str | None:
        """'ok' or 'failed' for a finished cell, None otherwise."""
        try:
            return json.loads(self._marker(cell.cell_id).read_text())["status"]
        except (OSError, ValueError, KeyError):
            return None

    def try_lock(self, cell: Cell) -> bool:
        """Claim a cell for this process; False if a live runner holds it."""
        lock = self.cells_dir / f"{cell.cell_id}.lock"
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                if self._lock_alive(lock):
                    return False
                lock.unlink(missing_ok=True)  # its runner died: take over
                continue
            with os.fdopen(fd, "w") as handle:
                json.dump({"pid": os.getpid(), "host": HOST}, handle)
            return True
        return False

    def unlock(self, cell: Cell) -> None:
        (self.cells_dir / f"{cell.cell_id}.lock").unlink(missing_ok=True)

    def begin(self, cell: Cell) -> None:
        """Drop whatever an earlier, unfinished attempt at this cell left behind."""
        self._marker(cell.cell_id).unlink(missing_ok=True)
        for path in self.records_dir.glob(f"{cell.cell_id}-*.json"):
            path.unlink(missing_ok=True)

    def finish(self, cell: Cell, records: list[Record]) -> None:
        """Write the cell's records, then its marker (the commit point)."""
        for record in records:
            write_json_atomic(self.records_dir / f"{record.record_id}.json", record.to_dict())
        status = "ok" if all(r.status == "ok" for r in records) else "failed"
        write_json_atomic(
            self._marker(cell.cell_id),
            {"cell": cell.to_dict(), "status": status, "records": [r.record_id for r in records]},
        )

    # --- reading ----------------------------------------------------------------------------
    def records(self) -> Iterator[Record]:
        """Records of finished cells, in a stable order."""
        for marker in sorted(self.cells_dir.glob("*.json")):
            try:
                ids = json.loads(marker.read_text())["records"]
            except (ValueError, KeyError) as err:
                raise SchemaError(f"{marker}: unreadable cell marker ({err})") from None
            for record_id in ids:
                yield self.read_record(self.records_dir / f"{record_id}.json")

    @staticmethod
    def read_record(path: Path) -> Record:
        try:
            return Record.from_dict(json.loads(path.read_text()))
        except FileNotFoundError:
            raise SchemaError(f"{path} is listed by its cell but missing") from None
        except ValueError as err:
            raise SchemaError(f"{path}: {err}") from None

    # --- helpers ----------------------------------------------------------------------------
    def _marker(self, cell_id: str) -> Path:
        return self.cells_dir / f"{cell_id}.json"

    @staticmethod
    def _lock_alive(lock: Path) -> bool:
        try:
            owner = json.loads(lock.read_text())
        except (OSError, ValueError):
            return True  # being written right now by its owner
        if owner.get("host") != HOST:
            return True  # cannot check another machine's processes: respect the lock
        return _pid_alive(int(owner.get("pid", -1)))

    def _remove_orphan_temp_files(self) -> None:
        """Temp files are orphans once no live runner holds a lock in this directory."""
        if any(self._lock_alive(lock) for lock in self.cells_dir.glob("*.lock")):
            return
        for folder in (self.records_dir, self.cells_dir):
            for tmp in folder.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
