"""The data behind a board: a report writes its records and replicates, and a report of those alone
gives the same files, byte for byte; malformed bundles are clear errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.records import eer_record
from tradeoff_bench.bench.cli import main
from tradeoff_bench.bench.errors import StoreError
from tradeoff_bench.bench.report import write_report
from tradeoff_bench.bench.report.bootstrap import Replicates
from tradeoff_bench.bench.report.bundle import RECORDS_FILE, REPLICATES_FILE, read_bundle
from tradeoff_bench.core.records import Record

FULL = 1_000_000


def board() -> tuple[list[Record], Replicates]:
    """Two methods of two tasks, 3 seeds, with replicates for all but one candidate."""
    records, replicates = [], Replicates()
    rng = np.random.default_rng(0)
    for task in ("vad", "asvspoof2019"):
        for method in ("dense", "dcl"):
            for seed in range(3):
                for share in (0.25, 0.5, 1.0):
                    eer = 20 - 8 * share + seed + (method == "dcl")
                    r = eer_record(
                        method,
                        seed,
                        share,
                        eer,
                        full_macs=FULL,
                        task=task,
                        corpus=f"{task}-mini",
                        cell_id=f"{task}-{method}-s{seed}",
                    )
                    records.append(r)
                    replicates.values[r.record_id] = eer + rng.normal(0, 0.5, 1000)
    first = records[0].record_id
    del replicates.values[first]
    replicates.notes[first] = "no scores"
    return records, replicates


def test_a_report_of_the_published_records_is_the_same_report(tmp_path: Path):
    records, replicates = board()
    first = write_report(records, tmp_path / "first", published=replicates)
    assert tmp_path / "first" / "vad" / RECORDS_FILE in first
    folders = [str(tmp_path / "first" / task) for task in ("asvspoof2019", "vad")]
    assert main(["report", *folders, "--to", str(tmp_path / "again")]) == 0
    again = sorted(p.relative_to(tmp_path / "again") for p in (tmp_path / "again").rglob("*") if p.is_file())
    assert again == sorted(p.relative_to(tmp_path / "first") for p in first)
    for name in again:
        assert (tmp_path / "again" / name).read_bytes() == (tmp_path / "first" / name).read_bytes(), name


def test_the_records_file_is_json_lines_that_pandas_reads(tmp_path: Path):
    records, replicates = board()
    write_report(records, tmp_path, published=replicates)
    frame = pd.read_json(tmp_path / "vad" / RECORDS_FILE, lines=True)
    assert len(frame) == 18 and set(frame["method"]) == {"dense", "dcl"}
    loaded, reps = read_bundle(tmp_path / "vad")
    assert [r.to_dict() for r in loaded] == [r.to_dict() for r in sorted(records[:18], key=lambda r: r.record_id)]
    assert reps.notes == {records[0].record_id: "no scores"}
    np.testing.assert_array_equal(reps.values[records[1].record_id], replicates.values[records[1].record_id])


def test_replicates_of_other_resampling_settings_are_not_reused(tmp_path: Path):
    records, replicates = board()
    write_report(records, tmp_path, published=replicates)
    path = tmp_path / "vad" / REPLICATES_FILE
    lines = [json.loads(line) for line in gzip.decompress(path.read_bytes()).decode().splitlines()]
    path.write_bytes(gzip.compress("".join(json.dumps({**line, "n_resamples": 10}) + "\n" for line in lines).encode()))
    assert read_bundle(tmp_path / "vad")[1] == Replicates()


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"not gzip", "not a gzip-compressed JSON Lines file"), (gzip.compress(b"{oops\n", mtime=0), "line 1: not JSON")],
    ids=["not-gzip", "not-json"],  # an id with the gzip header's time in it differs between xdist workers
)
def test_a_malformed_bundle_is_a_clear_error(tmp_path: Path, content: bytes, message: str):
    (tmp_path / RECORDS_FILE).write_bytes(content)
    with pytest.raises(StoreError, match=message):
        read_bundle(tmp_path)


def test_a_published_board_needs_to(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    records, replicates = board()
    write_report(records, tmp_path, published=replicates)
    assert main(["report", str(tmp_path / "vad")]) == 2
    assert "is a published board: say with --to" in capsys.readouterr().err
