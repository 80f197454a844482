"""Detection thresholds after compression: the dev-chosen operating point, measured and reported."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tests.records import candidate_record
from tradeoff_bench.bench.measure import operating_point
from tradeoff_bench.bench.report import board_info, records_frame, write_report
from tradeoff_bench.bench.report.thresholds import threshold_table
from tradeoff_bench.tasks.metrics import ItemScores


def scores(positive: list[float], negative: list[float]) -> ItemScores:
    values = np.array(positive + negative, dtype=np.float32)
    labels = np.array([1.0] * len(positive) + [0.0] * len(negative), dtype=np.float32)
    return ItemScores(np.arange(values.size), labels, values)


def test_operating_point_by_hand() -> None:
    """dev: positives 0.6 0.8 0.9, negatives 0.1 0.2 0.7 -> EER 1/3 at threshold 0.6 (one miss: 0.6
    itself is rejected; one false alarm: 0.7). test at 0.6: 1 of 4 positives <= 0.6 (0.5), 1 of 4
    negatives above it (0.61): miss 25 %, false alarm 25 %, error 25 %."""
    split = {
        "val": scores([0.6, 0.8, 0.9], [0.1, 0.2, 0.7]),
        "test": scores([0.5, 0.65, 0.95, 0.99], [0.3, 0.61, 0.2, 0.1]),
    }
    task = SimpleNamespace(primary_metric="eer", item_scores=lambda model, name: split[name])
    point = operating_point(None, task)  # type: ignore[arg-type]
    assert point["dev_threshold"] == pytest.approx(0.6)
    assert point["dev_eer"] == pytest.approx(100 / 3)
    assert point["test_miss_at_dev_threshold"] == 25.0 and point["test_false_alarm_at_dev_threshold"] == 25.0
    assert point["test_error_at_dev_threshold"] == 25.0
    assert operating_point(None, SimpleNamespace(primary_metric="mse")) == {}  # type: ignore[arg-type]


def record(method: str, seed: int, macs: int, threshold: float, error: float):
    point = {
        "dev_threshold": threshold,
        "dev_eer": 10.0,
        "test_miss_at_dev_threshold": error,
        "test_false_alarm_at_dev_threshold": error,
        "test_error_at_dev_threshold": error,
    }
    return candidate_record(
        method,
        seed,
        macs,
        {"eer": 10.0},
        full_macs=1000,
        overrides={"primary_metric": "eer", "operating_point": point, "label": f"m{macs}"},
    )


def test_threshold_shift_from_the_same_seeds_dense_model(tmp_path: Path) -> None:
    records = [
        record("dense", 0, 1000, 0.6, 10.0),
        record("dense", 1, 1000, 0.4, 11.0),
        record("pruned", 0, 500, 0.9, 14.0),
        record("pruned", 1, 500, 0.3, 12.0),
        record("pruned", 2, 500, 0.5, 12.0),  # no dense seed 2: the median of dense's (0.5)
    ]
    frame = records_frame(records)
    table = threshold_table(frame).set_index(["method", "seed"])
    assert table.loc[("pruned", 0), "threshold_shift"] == pytest.approx(0.3)
    assert table.loc[("pruned", 1), "threshold_shift"] == pytest.approx(-0.1)
    assert table.loc[("pruned", 2), "threshold_shift"] == pytest.approx(0.0)
    assert table.loc[("pruned", 0), "test_error_at_dev_threshold"] == 14.0
    assert board_info(frame).metric == "eer"
    write_report(records, tmp_path)
    assert "| pruned | m500 | 0 | 10 | 14 | 14 / 14 | 0.9 | +0.3 |" in (tmp_path / "toy" / "thresholds.md").read_text()
