"""The published board (`results/`) carries the data behind it, and that data gives its files back."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradeoff_bench.bench.cli import main
from tradeoff_bench.bench.report.bundle import RECORDS_FILE, REPLICATES_FILE

RESULTS = Path(__file__).resolve().parents[1] / "results"
REPORTS = sorted({board.parent.parent for board in RESULTS.rglob(RECORDS_FILE)})
"""Every published report with its records: a folder whose task folders hold them."""


def test_every_published_table_has_its_records():
    boards = sorted(board.parent for board in RESULTS.rglob("leaderboard.md"))
    assert RESULTS / "vad" in boards, "results/ does not publish the default board"
    lacking = sorted(b.relative_to(RESULTS).as_posix() for b in boards if not (b / RECORDS_FILE).is_file())
    assert not lacking, f"published boards without {RECORDS_FILE}: {lacking}"
    assert all((b / REPLICATES_FILE).is_file() for b in boards if (b / RECORDS_FILE).is_file())


@pytest.mark.parametrize("report", REPORTS, ids=[str(r.relative_to(RESULTS.parent)) for r in REPORTS])
def test_the_published_files_come_back_from_the_published_records(report: Path, tmp_path: Path):
    boards = sorted(folder for folder in report.iterdir() if (folder / RECORDS_FILE).is_file())
    assert main(["report", *map(str, boards), "--to", str(tmp_path)]) == 0
    rebuilt = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert rebuilt
    differ = [
        str(name)
        for name in rebuilt
        if not (report / name).is_file() or (tmp_path / name).read_bytes() != (report / name).read_bytes()
    ]
    assert not differ, f"{report.relative_to(RESULTS.parent)}: files that its records do not give back: {differ}"
