import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tradeoff_bench.bench.grid import resolve_cell
from tradeoff_bench.bench.store import Store, StoreError, write_json_atomic
from tradeoff_bench.core.records import SCHEMA_VERSION, Record, SchemaError


def record(cell_id: str, label: str, status: str = "ok") -> Record:
    return Record(
        cell_id=cell_id,
        task="synthetic",
        corpus="c",
        method="dense",
        seed=0,
        label=label,
        status=status,
        macs=10,
        full_macs=20,
        metrics={"mse": 0.5},
        primary_metric="mse",
    )


@pytest.fixture
def cell():
    return resolve_cell("synthetic", {}, "dense", {}, 0)


def test_records_survive_save_and_load(tmp_path: Path, cell) -> None:
    store = Store(tmp_path).open()
    records = [record(cell.cell_id, "x0.5"), record(cell.cell_id, "x1")]
    store.finish(cell, records)
    loaded = list(Store(tmp_path).records())
    assert loaded == records
    assert loaded[0].macs_fraction == 0.5
    assert store.status(cell) == "ok"


def test_output_files_are_written_beside_their_record_and_listed_in_it(tmp_path: Path, cell) -> None:
    store = Store(tmp_path).open()
    with_file = record(cell.cell_id, "x1")
    with_file.attachments = {"scores.txt": "LA_E_1000000 - bonafide 1.5\n", "scores.npz": b"PK\x03\x04\x00\xff"}
    store.finish(cell, [record(cell.cell_id, "x0.5"), with_file])
    x05, x1 = Store(tmp_path).records()
    assert x05.outputs == [] and x1.outputs == [f"outputs/{cell.cell_id}-x1/scores.{ext}" for ext in ("npz", "txt")]
    assert (tmp_path / x1.outputs[1]).read_text() == "LA_E_1000000 - bonafide 1.5\n"
    assert (tmp_path / x1.outputs[0]).read_bytes() == b"PK\x03\x04\x00\xff"  # bytes kept as they are
    stored = json.loads((store.records_dir / f"{x1.record_id}.json").read_text())
    assert "attachments" not in stored and x1.attachments == {}  # the text lives only in its file
    store.begin(cell)  # a re-run of the cell starts clean
    assert not (tmp_path / "outputs" / f"{cell.cell_id}-x1").exists()
    with_file.attachments = {"../escape.txt": "x"}
    with pytest.raises(ValueError, match="plain file name"):
        store.finish(cell, [with_file])


def test_unfinished_cell_is_invisible_and_cleaned_on_begin(tmp_path: Path, cell) -> None:
    store = Store(tmp_path).open()
    stray = store.records_dir / f"{cell.cell_id}-x0.5.json"
    write_json_atomic(stray, record(cell.cell_id, "x0.5").to_dict())
    assert list(store.records()) == [] and not store.is_finished(cell)
    store.begin(cell)
    assert not stray.exists()


def test_lock_is_exclusive_and_a_dead_owner_is_taken_over(tmp_path: Path, cell) -> None:
    store = Store(tmp_path).open()
    assert store.try_lock(cell)
    assert not store.try_lock(cell)  # held by a live process (this one)
    store.unlock(cell)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock = store.cells_dir / f"{cell.cell_id}.lock"
    lock.write_text(json.dumps({"pid": int(dead.stdout), "host": os.uname().nodename}))
    assert store.try_lock(cell)


def test_orphan_temp_files_are_removed_on_open(tmp_path: Path) -> None:
    store = Store(tmp_path).open()
    orphan = store.records_dir / ".abc.json.123.tmp"
    orphan.write_text("{")
    Store(tmp_path).open()
    assert not orphan.exists()


def test_newer_schema_and_broken_files_are_rejected(tmp_path: Path, cell) -> None:
    store = Store(tmp_path).open()
    store.finish(cell, [record(cell.cell_id, "a")])
    path = store.records_dir / f"{cell.cell_id}-a.json"
    data = json.loads(path.read_text())
    data["schema_version"] = SCHEMA_VERSION + 1
    path.write_text(json.dumps(data))
    with pytest.raises(SchemaError, match="newer"):
        list(store.records())
    path.write_text("{not json")
    with pytest.raises(SchemaError, match=path.name):
        list(store.records())


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_output_is_a_clear_error(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(StoreError, match="not writable"):
            Store(tmp_path / "out").open()
    finally:
        tmp_path.chmod(0o700)


def test_output_under_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError, match="not writable"):
        Store(tmp_path / "file" / "out").open()
