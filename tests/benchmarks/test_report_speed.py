"""How long the report takes for 10,000 records: leaderboards, tables and Pareto plots; and for a
vad-like board whose candidates keep per-item scores, with and without cached bootstrap replicates.

Run: make bench-perf. The records are synthetic but complete: 4 corpora x 5 methods x 10 seeds x
50 candidates, with a few failed cells, so every section of the report is drawn. The scored board
has 5 methods x 5 seeds x 8 candidates, each scored on 300 mixtures of 1,000 frames.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from tradeoff_bench.bench.report import write_report
from tradeoff_bench.core.records import Record

CORPORA, METHODS, SEEDS, CANDIDATES = 4, 5, 10, 50


def ten_thousand_records() -> list[Record]:
    rng = random.Random(0)
    records = []
    for corpus in range(CORPORA):
        for method in range(METHODS):
            for seed in range(SEEDS):
                cell_id = f"{corpus:02d}{method:02d}{seed:02d}" + "0" * 10
                identity = dict(
                    cell_id=cell_id,
                    task="synthetic",
                    corpus=f"synthetic-mlp-r16-seed{corpus}",
                    method=f"method-{method}",
                    seed=seed,
                    primary_metric="mse",
                    cost_unit="example",
                    task_settings={"data_seed": corpus},
                    settings={"knob": method},
                )
                if seed == SEEDS - 1 and method == 0:
                    records.append(Record(**identity, label="failed", status="failed", error="RuntimeError: boom"))
                    continue
                for i in range(CANDIDATES):
                    fraction = (i + 1) / CANDIDATES
                    records.append(
                        Record(
                            **identity,
                            label=f"c{i}",
                            status="ok",
                            macs=int(3072 * fraction),
                            full_macs=3072,
                            params=int(1600 * fraction),
                            bytes=int(8000 * fraction),
                            latency_ms=0.05 * fraction,
                            metrics={"mse": 0.02 + 0.5 * (1 - fraction) ** 2 * rng.uniform(0.8, 1.2)},
                            reference_metric=1.0,
                            train_seconds=3.0,
                            train_epochs=40,
                            cell_seconds=150.0,
                            widths={"hidden1": max(1, int(64 * fraction))},
                        )
                    )
    return records


def test_report_of_10000_records(benchmark: BenchmarkFixture, tmp_path: Path) -> None:
    records = ten_thousand_records()
    failed = sum(r.status == "failed" for r in records)
    assert len(records) == CORPORA * METHODS * SEEDS * CANDIDATES - failed * (CANDIDATES - 1)
    written = benchmark.pedantic(write_report, args=(records, tmp_path), rounds=3, iterations=1)
    benchmark.extra_info["records"] = len(records)
    assert len(written) > CORPORA and all(path.exists() for path in written)


def scored_records(
    run_dir: Path, methods: int = 5, seeds: int = 5, candidates: int = 8, items: int = 300, frames: int = 1000
) -> list[Record]:
    rng = np.random.default_rng(0)
    item = np.repeat(np.arange(items), frames)
    label = (rng.random(item.size) < 0.6).astype(np.float32)
    records = []
    for method in range(methods):
        for seed in range(seeds):
            for i in range(candidates):
                fraction = (i + 1) / candidates
                score = (label * (0.5 + fraction) + rng.normal(0, 1, item.size)).astype(np.float32)
                record = Record(
                    cell_id=f"{method:02d}{seed:02d}" + "0" * 12,
                    task="vad",
                    corpus="vad-like",
                    method="dense" if method == 0 else f"method-{method}",
                    seed=seed,
                    label=f"c{i}",
                    status="ok",
                    macs=int(1000 * fraction),
                    full_macs=1000,
                    primary_metric="eer",
                    metrics={"eer": 30.0 * (1.2 - fraction)},
                    reference_metric=50.0,
                    cost_unit="second",
                    train_epochs=6,
                )
                record.outputs = [f"outputs/{record.record_id}/scores.npz"]
                (run_dir / record.outputs[0]).parent.mkdir(parents=True, exist_ok=True)
                np.savez_compressed(run_dir / record.outputs[0], item=item, label=label, score=score)
                records.append(record)
    return records


@pytest.mark.parametrize("cache", ["cold", "warm"])
def test_report_of_a_scored_vad_board(
    benchmark: BenchmarkFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: str
) -> None:
    monkeypatch.setenv("TRADEOFF_BENCH_CACHE", str(tmp_path / "cache"))
    records = scored_records(tmp_path / "run")
    run_dirs = {r.record_id: tmp_path / "run" for r in records}
    if cache == "warm":
        write_report(records, tmp_path / "out", run_dirs=run_dirs)

    def report() -> list[Path]:
        if cache == "cold":
            for path in (tmp_path / "cache").glob("**/*.npy"):
                path.unlink()
        return write_report(records, tmp_path / "out", run_dirs=run_dirs)

    start = time.perf_counter()
    benchmark.pedantic(report, rounds=1, iterations=1)
    benchmark.extra_info["seconds"] = time.perf_counter() - start
    assert pd.read_csv(tmp_path / "out" / "vad" / "candidates.csv")["metric_ci_low"].notna().all()
