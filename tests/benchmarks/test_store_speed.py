"""Record store speed: writing one cell's records (atomic, fsynced) and reading 1,000 records back.

Run: make bench-perf. `extra_info` holds the per-record figures.
"""

from __future__ import annotations

from pathlib import Path

from pytest_benchmark.fixture import BenchmarkFixture

from tradeoff_bench.bench.grid import Cell
from tradeoff_bench.bench.store import Store
from tradeoff_bench.core.records import Record

LABELS = [f"x{m:g}" for m in (0.125, 0.1875, 0.25, 0.375, 0.5, 0.75, 1.0)]  # the default grid's cell


def cell(i: int) -> Cell:
    return Cell("synthetic", {"model": "mlp"}, "dense", {"multipliers": [0.5, 1.0], "i": i}, 0)


def records(c: Cell) -> list[Record]:
    return [
        Record(
            c.cell_id,
            "synthetic",
            "synthetic-mlp-r16-seed0",
            "dense",
            0,
            label,
            "ok",
            settings=dict(c.method_settings),
            task_settings=dict(c.task_settings),
            macs=1536,
            full_macs=3072,
            params=1604,
            bytes=8000,
            latency_ms=0.05,
            metrics={"mse": 0.0151},
            primary_metric="mse",
            reference_metric=1.0,
            train_seconds=3.2,
            train_epochs=40,
            cell_seconds=3.4,
            widths={"hidden1": 32},
            facts={"multiplier": 0.5},
            provenance={"commit": "0" * 40, "dirty": False, "versions": {"torch": "2.11.0"}, "threads": 1},
        )
        for label in LABELS
    ]


def test_write_one_cell(benchmark: BenchmarkFixture, tmp_path: Path) -> None:
    store = Store(tmp_path).open()
    c = cell(0)
    batch = records(c)
    benchmark(store.finish, c, batch)
    benchmark.extra_info["records_per_cell"] = len(batch)
    benchmark.extra_info["ms_per_file"] = 1000 * benchmark.stats.stats.median / (len(batch) + 1)
    assert list(store.records()) == batch


def test_read_1000_records(benchmark: BenchmarkFixture, tmp_path: Path) -> None:
    store = Store(tmp_path).open()
    for i in range(143):  # 1,001 records
        store.finish(cell(i), records(cell(i)))
    loaded = benchmark(lambda: list(store.records()))
    benchmark.extra_info["ms_per_record"] = 1000 * benchmark.stats.stats.median / len(loaded)
    assert len(loaded) == 1001
