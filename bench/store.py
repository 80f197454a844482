"""The record store: one JSON file per candidate, written atomically, found again by cell id.

Layout of an output directory::

    records/<cell_id>-<label>.json   one per candidate (or one `-failed` record per failed cell)
    outputs/<cell_id>-<label>/<file> files the task keeps per candidate (scores.npz, official score files)
    models/<cell_id>-<label>.<ext>   the candidate's saved model (`bench.artifacts`), unless turned off
    cells/<cell_id>.json             written last: the cell is finished, and which records it made
    cells/<cell_id>.lock             held while a runner works on the cell
    cache/                           trained phases shared between cells (`bench.cache`; not the store's)
    run.json                         the record schema version of the newest suite that wrote here

A suite refuses a run folder whose `run.json` (or any record) is of a newer schema than its own,
for reading and writing alike, before it changes anything: a run is never rewritten by an older
suite that cannot read it. A folder of an older schema is read (`core.records.MIGRATIONS`), and
the first suite of a newer schema to write into it raises its version.

A cell counts as finished only once its marker exists, so a run killed at any point leaves at
worst an unfinished cell, whose stray records are removed and redone on the next run. Two runners
on one directory never run the same cell at once: a runner holds an exclusive `flock` on the
cell's lock file while it works on the cell. The kernel releases it when the runner dies, however
it dies, so a dead runner's lock is free at once and a live one's is never taken (no guessing from
process ids, which are reused). The file records the holder's pid and host for people.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tradeoff_bench.bench.errors import StoreError
from tradeoff_bench.bench.files import atomic_write
from tradeoff_bench.bench.grid import Cell
from tradeoff_bench.core import records as schema
from tradeoff_bench.core.records import NewerSchemaError, Record, SchemaError, newer_schema

HOST = socket.gethostname()
RUN_FILE = "run.json"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to `path` atomically (see `bench.files.atomic_write`)."""
    atomic_write(path, json.dumps(data, indent=1, sort_keys=True, allow_nan=True) + "\n")


class Store:
    """Records and cell markers under one output directory."""

    def __init__(self, root: str | Path, *, save_models: bool = True) -> None:
        self.root = Path(root)
        self.records_dir = self.root / "records"
        self.outputs_dir = self.root / "outputs"
        self.models_dir = self.root / "models"
        self.save_models = save_models
        self.cells_dir = self.root / "cells"
        self._held: dict[str, int] = {}
        """Cell id -> open descriptor of the lock file this store holds an flock on."""

    def schema_version(self) -> int | None:
        """The record schema version the run folder records (None: a new folder, or one older than
        versioned folders); NewerSchemaError when it is newer than this suite's."""
        path = self.root / RUN_FILE
        try:
            version = json.loads(path.read_text())["schema_version"]
        except (FileNotFoundError, NotADirectoryError):  # no run here yet: `open` says if it cannot be one
            return None
        except (ValueError, KeyError, TypeError) as err:
            raise SchemaError(f"{path}: unreadable run file ({err}); restore it or remove it") from None
        except OSError as err:
            raise StoreError(f"{path}: {err.strerror or err}") from None
        if not isinstance(version, int):
            raise SchemaError(f"{path}: schema_version is not an integer")
        if version > schema.SCHEMA_VERSION:
            raise newer_schema(version, f"{self.root} was written by a tradeoff-bench of")
        return version

    def open(self) -> Store:
        """Check the folder's schema version, create the directories (checking they are writable),
        stamp this suite's version and clear dead runners' leftovers."""
        found = self.schema_version()
        try:
            for folder in (self.records_dir, self.cells_dir):
                folder.mkdir(parents=True, exist_ok=True)
                fd, probe = tempfile.mkstemp(dir=folder, prefix=".probe.", suffix=".tmp")
                os.close(fd)
                Path(probe).unlink(missing_ok=True)  # another runner's clean-up may have been first
        except OSError as err:
            raise StoreError(f"output directory {self.root} is not writable: {err.strerror or err}") from None
        if found is None or found < schema.SCHEMA_VERSION:
            write_json_atomic(self.root / RUN_FILE, {"schema_version": schema.SCHEMA_VERSION})
        self._remove_leftovers()
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

    def marker_state(self, cell: Cell) -> tuple[int, int] | None:
        """Identity of the cell's marker file as it is now (None without one), to notice a rewrite."""
        try:
            stat = self._marker(cell.cell_id).stat()
        except OSError:  # no marker, or no usable folder (which `open` reports)
            return None
        return stat.st_ino, stat.st_mtime_ns

    def try_lock(self, cell: Cell) -> bool:
        """Claim a cell for this store object; False if another runner (or store object) holds it."""
        if cell.cell_id in self._held:
            return False
        path = self._lock_path(cell.cell_id)
        fd = _try_flock(path)
        if fd is None:
            return False
        try:
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps({"pid": os.getpid(), "host": HOST}).encode())
        except OSError as err:  # a full disk: no lock file stays behind, and the error names it
            path.unlink(missing_ok=True)
            os.close(fd)
            raise OSError(err.errno, err.strerror, str(path)) from err
        self._held[cell.cell_id] = fd
        return True

    def unlock(self, cell: Cell) -> None:
        """Release a claimed cell: the lock file goes first, then the lock on it."""
        fd = self._held.pop(cell.cell_id, None)
        if fd is not None:
            self._lock_path(cell.cell_id).unlink(missing_ok=True)
            os.close(fd)

    def begin(self, cell: Cell) -> None:
        """Drop whatever an earlier, unfinished attempt at this cell left behind."""
        self.discard(cell)

    def discard(self, cell: Cell) -> None:
        """Remove the cell's marker, records, outputs and models (those `finish` half-wrote when it failed)."""
        self._marker(cell.cell_id).unlink(missing_ok=True)
        for path in self.records_dir.glob(f"{cell.cell_id}-*.json"):
            path.unlink(missing_ok=True)
        for folder in self.outputs_dir.glob(f"{cell.cell_id}-*"):
            shutil.rmtree(folder, ignore_errors=True)
        for path in self.models_dir.glob(f"{cell.cell_id}-*"):
            path.unlink(missing_ok=True)

    def finish(self, cell: Cell, records: list[Record]) -> None:
        """Write the cell's output files, models and records, then its marker (the commit point)."""
        for record in records:
            files = sorted(record.attachments.items())
            record.outputs = [self._write_output(record, name, content) for name, content in files]
            if record.weights is not None and self.save_models:
                path = atomic_write(self.models_dir / f"{record.record_id}{record.weights.suffix}", record.weights.data)
                record.model_file = str(path.relative_to(self.root))
            write_json_atomic(self.records_dir / f"{record.record_id}.json", record.to_dict())
        status = "ok" if all(r.status == "ok" for r in records) else "failed"
        write_json_atomic(
            self._marker(cell.cell_id),
            {"cell": cell.to_dict(), "status": status, "records": [r.record_id for r in records]},
        )

    # --- reading ----------------------------------------------------------------------------
    def cell_records(self, cell: Cell) -> list[Record]:
        """The records of a finished cell; SchemaError names a marker or record that cannot be read."""
        return list(self._marker_records(self._marker(cell.cell_id)))

    def records(self) -> Iterator[Record]:
        """Records of finished cells, in a stable order."""
        self.schema_version()
        for marker in sorted(self.cells_dir.glob("*.json")):
            yield from self._marker_records(marker)

    def _marker_records(self, marker: Path) -> Iterator[Record]:
        try:
            ids = json.loads(marker.read_text())["records"]
        except (ValueError, KeyError, TypeError) as err:
            raise SchemaError(f"{marker}: unreadable cell marker ({err})") from None
        for record_id in ids:
            yield self.read_record(self.records_dir / f"{record_id}.json")

    @staticmethod
    def read_record(path: Path) -> Record:
        try:
            return Record.from_dict(json.loads(path.read_text()))
        except FileNotFoundError:
            raise SchemaError(f"{path} is listed by its cell but missing") from None
        except NewerSchemaError as err:
            raise NewerSchemaError(f"{path}: {err}") from None
        except ValueError as err:
            raise SchemaError(f"{path}: {err}") from None

    # --- helpers ----------------------------------------------------------------------------
    def _write_output(self, record: Record, name: str, content: str | bytes) -> str:
        """Write one output file of a record atomically; its path relative to the run directory."""
        if not name or name != Path(name).name or name.startswith("."):
            raise ValueError(f"output file name {name!r} of {record.record_id} must be a plain file name")
        path = atomic_write(self.outputs_dir / record.record_id / name, content)
        return str(path.relative_to(self.root))

    def _marker(self, cell_id: str) -> Path:
        return self.cells_dir / f"{cell_id}.json"

    def _lock_path(self, cell_id: str) -> Path:
        return self.cells_dir / f"{cell_id}.lock"

    def _remove_leftovers(self) -> None:
        """Lock files nobody holds (their runner died) and, once no runner is at work here, temp files.

        Temp files are only written by a runner holding a cell's lock, so with every lock free
        they belong to no one."""
        folders = [self.records_dir, self.cells_dir, self.models_dir, *self.outputs_dir.glob("*/")]
        temp_files = [tmp for folder in folders for tmp in folder.glob(".*.tmp")]
        busy = False  # listed before the locks are looked at: a temp file's writer held a lock then
        for lock in self.cells_dir.glob("*.lock"):
            if lock.stem in self._held:
                busy = True
                continue
            fd = _try_flock(lock)
            if fd is None:
                busy = True
                continue
            lock.unlink(missing_ok=True)
            os.close(fd)
        if not busy:
            for tmp in temp_files:
                tmp.unlink(missing_ok=True)


def _try_flock(path: Path) -> int | None:
    """An open descriptor of `path` holding an exclusive flock on it, or None if another holds it.

    The file is created if missing. A holder releases by unlinking the file, then closing it; a
    claim that raced with that release (it locked the unlinked file) notices and tries again.
    """
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
        except FileNotFoundError:  # the folder is gone
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)
