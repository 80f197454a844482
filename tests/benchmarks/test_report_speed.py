"""How long the report takes for 10,000 records: leaderboards, tables and Pareto plots.

Run: make bench-perf. The records are synthetic but complete: 4 corpora x 5 methods x 10 seeds x
50 candidates, with a few failed cells, so every section of the report is drawn.
"""

from __future__ import annotations

import random
from pathlib import Path

from pytest_benchmark.fixture import BenchmarkFixture

from bench.records import Record
from bench.report import write_report

CORPORA, METHODS, SEEDS, CANDIDATES = 4, 5, 10, 50


def ten_thousand_records() -> list[Record]:
    rng = random.Random(0)
    records = []
    for corpus in range(CORPORA):
        for method in range(METHODS):
            for seed in range(SEEDS):
                cell_id = f"{corpus:02d}{method:02d}{seed:02d}" + "0" * 10
                identity = dict(cell_id=cell_id, task="synthetic", corpus=f"synthetic-mlp-r16-seed{corpus}",
                                method=f"method-{method}", seed=seed, primary_metric="mse", cost_unit="example",
                                task_settings={"data_seed": corpus}, settings={"knob": method})
                if seed == SEEDS - 1 and method == 0:
                    records.append(Record(**identity, label="failed", status="failed", error="RuntimeError: boom"))
                    continue
                for i in range(CANDIDATES):
                    fraction = (i + 1) / CANDIDATES
                    records.append(Record(
                        **identity, label=f"c{i}", status="ok", macs=int(3072 * fraction), full_macs=3072,
                        params=int(1600 * fraction), bytes=int(8000 * fraction), latency_ms=0.05 * fraction,
                        metrics={"mse": 0.02 + 0.5 * (1 - fraction) ** 2 * rng.uniform(0.8, 1.2)},
                        reference_metric=1.0, train_seconds=3.0, train_epochs=40, cell_seconds=150.0,
                        widths={"hidden1": max(1, int(64 * fraction))}))
    return records


def test_report_of_10000_records(benchmark: BenchmarkFixture, tmp_path: Path) -> None:
    records = ten_thousand_records()
    failed = sum(r.status == "failed" for r in records)
    assert len(records) == CORPORA * METHODS * SEEDS * CANDIDATES - failed * (CANDIDATES - 1)
    written = benchmark.pedantic(write_report, args=(records, tmp_path), rounds=3, iterations=1)
    benchmark.extra_info["records"] = len(records)
    assert len(written) > CORPORA and all(path.exists() for path in written)
