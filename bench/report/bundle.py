"""The data behind a published board, beside its tables: enough to recompute every table and figure.

`write_report` writes, in each task folder,

    records.jsonl.gz      one record per line (`Record.to_dict`, latencies joined; no model weights)
    replicates.jsonl.gz   per candidate its bootstrap replicates of the primary metric over test
                          items (`bench.report.bootstrap`), or why it has none

and `tradeoff-bench report results/<task> ...` reads such folders as it reads run directories, so the
published tables come back identically without the run's per-item scores or models; pandas reads
the records too (`pd.read_json(path, lines=True)`). Lines are sorted by record id and gzip carries
no timestamp, so the same board gives the same bytes.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tradeoff_bench.bench.driver import OTHER_CORPUS
from tradeoff_bench.bench.errors import StoreError
from tradeoff_bench.bench.report.bootstrap import GRID_BINS, N_RESAMPLES, SEED, STATISTICS_VERSION, Replicates
from tradeoff_bench.core.records import Record, SchemaError

RECORDS_FILE = "records.jsonl.gz"
REPLICATES_FILE = "replicates.jsonl.gz"
SETTINGS = {"n_resamples": N_RESAMPLES, "seed": SEED, "grid_bins": GRID_BINS, "version": STATISTICS_VERSION}
"""The resampling settings replicates were drawn with: replicates of other settings are not reused."""


def records_bytes(records: Iterable[Record]) -> bytes:
    """`records.jsonl.gz` of `records`."""
    return _jsonl(r.to_dict() for r in sorted(records, key=lambda r: r.record_id))


def replicates_bytes(replicates: Replicates) -> bytes:
    """`replicates.jsonl.gz`: per record id its replicate values (exact, with their dtype) or its note."""
    lines: list[dict[str, Any]] = [
        {"record_id": rid, **SETTINGS, "dtype": str(v.dtype), "values": v.tolist()}
        for rid, v in replicates.values.items()
    ]
    lines += [{"record_id": rid, **SETTINGS, "note": note} for rid, note in replicates.notes.items()]
    return _jsonl(sorted(lines, key=lambda line: line["record_id"]))


def is_bundle(folder: Path) -> bool:
    """Whether `folder` holds a published board's data."""
    return (folder / RECORDS_FILE).is_file()


def bundles_under(path: Path) -> list[Path]:
    """The published boards at `path`: the folder itself if it is one, else its task folders that are
    (a whole report, e.g. `results/paper`); empty when there are none."""
    if is_bundle(path):
        return [path]
    return sorted(folder for folder in path.iterdir() if is_bundle(folder)) if path.is_dir() else []


def published_cells(paths: Iterable[Path], versions: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """cell id -> "ok" or "failed" for every cell whose records the published boards at `paths`
    hold: what `run --continue-from` counts as finished; `OTHER_CORPUS` where a record says its
    corpus was made by another generator version than `versions` (cell id -> the planned task's
    `corpus_version`) gives: such a cell is run again, not mixed into the board. A path without a
    board is an error."""
    cells: dict[str, str] = {}
    for path in paths:
        boards = bundles_under(path)
        if not boards:
            raise StoreError(f"{path} holds no published board ({RECORDS_FILE} in it or in its task folders)")
        for board in boards:
            for record in read_bundle(board)[0]:
                current = (versions or {}).get(record.cell_id)
                made = record.corpus_version
                if cells.get(record.cell_id) == OTHER_CORPUS or (made and current and made != current):
                    cells[record.cell_id] = OTHER_CORPUS
                    continue
                failed = record.status != "ok" or cells.get(record.cell_id) == "failed"
                cells[record.cell_id] = "failed" if failed else "ok"
    return cells


def read_bundle(folder: Path) -> tuple[list[Record], Replicates]:
    """The records and replicates of a published board; a malformed file is a one-line error naming it."""
    records = []
    for number, data in _read_jsonl(folder / RECORDS_FILE):
        try:
            records.append(Record.from_dict(data))
        except (SchemaError, TypeError) as err:
            raise StoreError(f"{folder / RECORDS_FILE}: line {number}: {err}") from None
    replicates = Replicates()
    path = folder / REPLICATES_FILE
    if path.is_file():
        for number, data in _read_jsonl(path):
            if {key: data.get(key) for key in SETTINGS} != SETTINGS:
                continue  # drawn with other settings: recomputed where scores exist, else no interval
            try:
                if "values" in data:
                    replicates.values[data["record_id"]] = np.asarray(data["values"], dtype=data["dtype"])
                else:
                    replicates.notes[data["record_id"]] = str(data["note"])
            except (KeyError, TypeError, ValueError) as err:
                raise StoreError(f"{path}: line {number}: malformed replicates ({err})") from None
    return records, replicates


def _jsonl(rows: Iterable[dict[str, Any]]) -> bytes:
    text = "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows)
    return gzip.compress(text.encode(), compresslevel=9, mtime=0)


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        text = gzip.decompress(path.read_bytes()).decode()
    except (OSError, EOFError, UnicodeDecodeError) as err:
        raise StoreError(f"{path}: not a gzip-compressed JSON Lines file ({err})") from None
    for number, line in enumerate(text.splitlines(), 1):
        try:
            data = json.loads(line)
        except ValueError as err:
            raise StoreError(f"{path}: line {number}: not JSON ({err})") from None
        if not isinstance(data, dict):
            raise StoreError(f"{path}: line {number}: expected a JSON object")
        yield number, data
