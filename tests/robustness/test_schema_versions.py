"""Run folders shared between versions of the suite: an older suite refuses a newer folder for
reading and writing alike, one `error:` line and nothing changed; a newer suite reads an older one.

Two versions are played by one suite with `SCHEMA_VERSION` set to each in turn."""

import hashlib
import json
from pathlib import Path

import pytest

from tests.cli_args import TINY_SYNTHETIC
from tradeoff_bench.bench.cli import main
from tradeoff_bench.bench.store import RUN_FILE, Store
from tradeoff_bench.core import records as schema

TINY = [*TINY_SYNTHETIC, "--method", "dense", "--set", "multipliers=[0.5, 1.0]"]


def run(out: Path, *extra: str) -> list[str]:
    return ["run", *TINY, "--out", str(out), "--no-progress", *extra]


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file under `folder` (hidden ones too): its digest and modification time."""
    return {
        str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def refused(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(args)
    stdout, stderr = capsys.readouterr()
    lines = stderr.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stdout + stderr
    return lines[0]


@pytest.fixture
def newer_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    """A run folder written by a suite of record schema 2; the suite is back at schema 1 afterwards."""
    out = tmp_path / "run"
    monkeypatch.setattr(schema, "SCHEMA_VERSION", 2)
    assert main(run(out)) == 0
    capsys.readouterr()
    assert json.loads((out / RUN_FILE).read_text()) == {"schema_version": 2}
    assert {json.loads(p.read_text())["schema_version"] for p in (out / "records").glob("*.json")} == {2}
    monkeypatch.setattr(schema, "SCHEMA_VERSION", 1)
    return out


def test_an_older_suite_never_writes_into_a_newer_run(
    newer_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(newer_run)
    for args in (run(newer_run), run(newer_run, "--retry-failed", "--rerun-stale"), run(newer_run, "--seeds", "1")):
        line = refused(args, capsys)
        assert str(newer_run) in line and "record schema 2, newer than this suite's 1" in line
        assert "upgrade tradeoff-bench" in line
    assert snapshot(newer_run) == before


def test_an_older_suite_neither_reports_nor_evaluates_a_newer_run(
    newer_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(newer_run)
    assert "newer than this suite's 1" in refused(["report", str(newer_run)], capsys)
    assert "newer than this suite's 1" in refused(["curves", str(newer_run)], capsys)
    other = tmp_path / "scored"
    assert "newer than this suite's 1" in refused(["eval", str(newer_run), "--out", str(other)], capsys)
    assert not other.exists() and snapshot(newer_run) == before
    # eval's own output folder, when a newer suite made it, is refused too
    older = tmp_path / "older"
    (older / "cells").mkdir(parents=True)
    assert main(run(older, "--set", "multipliers=[1.0]")) == 0  # at schema 1
    capsys.readouterr()
    assert "newer than this suite's 1" in refused(["eval", str(older), "--out", str(newer_run)], capsys)
    assert snapshot(newer_run) == before


def test_newer_records_without_a_run_file_are_not_taken_for_damaged_ones(
    newer_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The case of issue 28: a folder whose records are schema 2 (no run.json) was run again and overwritten."""
    (newer_run / RUN_FILE).unlink()
    before = snapshot(newer_run)
    line = refused(run(newer_run), capsys)
    assert "record schema 2, newer than this suite's 1" in line and ".json" in line
    assert "newer than this suite's 1" in refused(["report", str(newer_run)], capsys)
    assert snapshot(newer_run) == before


def test_a_newer_suite_reads_and_resumes_an_older_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(run(out)) == 0
    assert json.loads((out / RUN_FILE).read_text()) == {"schema_version": 1}
    records = snapshot(out / "records")
    monkeypatch.setattr(schema, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(schema.MIGRATIONS, 1, lambda data: {**data, "facts": {**data["facts"], "migrated": 1}})
    capsys.readouterr()
    assert main(run(out)) == 0
    assert "nothing to train" in capsys.readouterr().out
    assert snapshot(out / "records") == records  # read, not rewritten
    assert all(r.facts["migrated"] == 1 and r.schema_version == 1 for r in Store(out).records())
    assert json.loads((out / RUN_FILE).read_text()) == {"schema_version": 2}  # it may now hold schema-2 records
    assert main(run(out, "--seeds", "1")) == 0  # new cells beside the old ones
    versions = sorted(r.schema_version for r in Store(out).records())
    assert versions == [1, 1, 2, 2]
    assert main(["report", str(out)]) == 0
    # and the suite of schema 1 now refuses the folder, which holds records it cannot read
    monkeypatch.setattr(schema, "SCHEMA_VERSION", 1)
    capsys.readouterr()
    assert "newer than this suite's 1" in refused(run(out), capsys)
