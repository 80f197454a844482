"""The breakdown: the selected candidate per seed, its secondary metrics over seeds, peers as rows."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pandas as pd
import pytest

from tests.records import candidate_record
from tradeoff_bench.bench.report import (
    PEERS,
    board_info,
    breakdown_metrics,
    breakdown_table,
    metric_order,
    records_frame,
    selected_candidates,
    write_report,
)
from tradeoff_bench.bench.report.breakdown import breakdown_markdown
from tradeoff_bench.core.records import Record

FULL = 1000
SNR = ["eer@snr<5", "eer@snr5-15", "eer@snr15-25", "eer@snr>=25"]


def record(method: str, seed: int, macs: int, metrics: dict[str, float], **extra) -> Record:
    return candidate_record(
        method,
        seed,
        macs,
        metrics,
        full_macs=FULL,
        primary_metric="eer",
        task="vad",
        corpus="vad-corpus",
        label=f"w{10_000 - macs}",
        cost_unit="second of audio",
        overrides=extra,
    )


def example() -> list[Record]:
    """Hand-made seeds of method `m` (eer, eer@snr<5):

    seed 0: 25% (20, 40), 50% (15, 30), 75% (5, 10)  -> 50%: best within half the MACs     -> 30
    seed 1: 25% (12, 24), 50% (12, 99)               -> 25%: tie on eer, the cheaper wins  -> 24
    seed 2: 60% (9, 36), 90% (8, 70)                 -> 60%: none within, the cheapest     -> 36
    so eer@snr<5 = mean 30 ± std 6, eer = 12 ± 3, MACs fraction 0.45 ± 0.18 (1 seed fell back).
    """
    candidates = {
        0: [(250, 20, 40), (500, 15, 30), (750, 5, 10)],
        1: [(250, 12, 24), (500, 12, 99)],
        2: [(600, 9, 36), (900, 8, 70)],
    }
    return [
        record("m", seed, macs, {"eer": eer, "eer@snr<5": low, "auc": 0.9})
        for seed, rows in candidates.items()
        for macs, eer, low in rows
    ]


def ref() -> Record:
    return record(
        PEERS,
        0,
        2000,
        {"eer": 4.0, "eer@snr<5": 8.0},
        label="ecapa",
        cell_id="peers",
        facts={"origin": "published", "macs_source": "paper", "note": ""},
    )


def test_metric_order_puts_the_primary_family_first_and_bands_in_reading_order():
    names = ["min_tdcf", "auc@snr<5", "auc", *SNR, "eer@A10", "eer@A07", "eer@A19", "eer@A09"]
    random.Random(0).shuffle(names)
    assert metric_order(names, "eer") == [
        "eer@A07",
        "eer@A09",
        "eer@A10",
        "eer@A19",
        *SNR,
        "auc",
        "auc@snr<5",
        "min_tdcf",
    ]
    assert metric_order(SNR[::-1], "eer") == SNR
    assert metric_order(["eer@snr5-15", "eer@snr<10"], "eer") == ["eer@snr<10", "eer@snr5-15"]  # by interval
    assert metric_order(["auc", "mse@x", "mse@y"], "mse") == ["mse@x", "mse@y", "auc"]


def test_breakdown_columns_are_every_secondary_metric_of_ok_records():
    recs = example() + [
        record("m", 3, 500, {"eer": 1.0, **{n: 1.0 for n in SNR[::-1]}}),
        record("x", 0, 500, {"eer": 2.0, "min_tdcf": 0.3}, status="failed"),
    ]
    assert breakdown_metrics(records_frame(recs)) == [*SNR, "auc"]  # the failed record's metric is not one
    table = breakdown_table(records_frame(recs))
    means = [c[: -len("_mean")] for c in table.columns if c.endswith("_mean")]
    assert means == ["cost_fraction", "eer", *SNR, "auc"]


def test_selected_candidate_is_the_best_within_the_budget_else_the_cheapest():
    picked = selected_candidates(records_frame(example()))
    assert picked["macs"].tolist() == [500, 250, 600]
    assert picked["fallback"].tolist() == [False, False, True]
    picked = selected_candidates(records_frame(example()), budget=0.25)
    assert picked["macs"].tolist() == [250, 250, 600]


def test_breakdown_cells_are_mean_and_std_of_the_selected_candidates():
    row = breakdown_table(records_frame(example())).set_index("name").loc["m"]
    assert (row["seeds"], row["fallback_seeds"]) == (3, 1)
    assert row["eer@snr<5_mean"] == pytest.approx(30.0) and row["eer@snr<5_std"] == pytest.approx(6.0)
    assert row["eer_mean"] == pytest.approx(12.0) and row["eer_std"] == pytest.approx(3.0)
    assert row["cost_fraction_mean"] == pytest.approx(0.45)
    assert row["cost_fraction_std"] == pytest.approx(math.sqrt(0.0325))
    assert row["auc_std"] == 0.0  # equal values have no spread, not float noise
    quarter = breakdown_table(records_frame(example()), budget=0.25).set_index("name").loc["m"]
    assert quarter["eer@snr<5_mean"] == pytest.approx((40 + 24 + 36) / 3)


def test_breakdown_of_a_higher_is_better_metric_takes_the_maximum():
    recs = [
        record(
            "m",
            0,
            macs,
            {"accuracy": acc, "accuracy@clean": clean},
            primary_metric="accuracy",
            higher_is_better=True,
            reference_metric=10.0,
        )
        for macs, acc, clean in ((200, 60.0, 70.0), (400, 80.0, 90.0), (450, 70.0, 75.0), (900, 95.0, 99.0))
    ]
    row = breakdown_table(records_frame(recs)).iloc[0]
    assert (row["accuracy_mean"], row["accuracy@clean_mean"]) == (80.0, 90.0)


def test_peers_are_extra_rows_with_their_own_figures():
    table = breakdown_table(records_frame(example() + [ref()]))
    assert table["name"].tolist() == ["m", "ecapa"]
    peer = table.iloc[1]
    assert (peer["kind"], peer["origin"]) == ("reference", "published")
    assert (peer["eer_mean"], peer["eer@snr<5_mean"], peer["cost_fraction_mean"]) == (4.0, 8.0, 2.0)
    assert pd.isna(peer["seeds"]) and math.isnan(peer["eer@snr<5_std"]) and math.isnan(peer["auc_mean"])


def test_markdown_states_the_rule_and_renders_units_fallbacks_and_peers():
    frame = records_frame(example() + [ref()])
    text = breakdown_markdown(breakdown_table(frame), board_info(frame))
    assert "## Breakdown at ≤50% MACs" in text
    assert "best `eer` among its candidates with MACs ≤ 50% of the full model" in text
    assert "falls back to its cheapest candidate" in text
    assert "| method | seeds | MACs fraction | eer [%] | eer@snr<5 [%] | auc |" in text
    assert "| m | 3 | 45% ± 18% (cheapest in 1/3 seeds) | 12 ± 3 | 30 ± 6 | 0.9 ± 0 |" in text
    assert "| ecapa (reference point, published) | – | 200% | 4 | 8 | – |" in text


def test_seeds_missing_a_metric_are_counted():
    recs = example()
    for r in recs:
        if r.seed == 2:
            r.metrics.pop("auc")
    row = breakdown_table(records_frame(recs)).iloc[0]
    assert row["auc_seeds"] == 2
    assert "0.9 ± 0 (2/3 seeds)" in breakdown_markdown(
        breakdown_table(records_frame(recs)), board_info(records_frame(recs))
    )


def test_without_secondary_metrics_there_is_no_breakdown(tmp_path: Path):
    recs = [record("m", 0, 500, {"eer": 10.0})]
    assert breakdown_table(records_frame(recs)).empty
    written = write_report(recs, tmp_path)
    assert tmp_path / "vad" / "breakdown.csv" not in written
    assert "Breakdown" not in (tmp_path / "vad" / "leaderboard.md").read_text()


def test_report_writes_the_breakdown_at_the_given_budget(tmp_path: Path):
    written = write_report(example() + [ref()], tmp_path, breakdown_budget=0.25)
    assert tmp_path / "vad" / "breakdown.csv" in written
    table = pd.read_csv(tmp_path / "vad" / "breakdown.csv").set_index("name")
    assert table.loc["m", "eer@snr<5_mean"] == pytest.approx((40 + 24 + 36) / 3)
    assert table.loc["ecapa", "kind"] == "reference"
    text = (tmp_path / "vad" / "leaderboard.md").read_text()
    assert "## Breakdown at ≤25% MACs" in text and "MACs ≤ 25% of the full model" in text


def test_breakdown_files_are_deterministic(tmp_path: Path):
    recs = example() + [ref()]
    first = write_report(recs, tmp_path / "a")
    random.Random(2).shuffle(recs)
    second = write_report(recs, tmp_path / "b")
    for one, two in zip(first, second, strict=True):
        assert one.read_bytes() == two.read_bytes(), one.name


def test_metric_order_puts_a_second_test_set_after_the_first_its_pooled_figure_first():
    real = ["eer@real", "eer@real/snr<5", "eer@real/snr5-15", "eer@real/snr15-25", "eer@real/snr>=25"]
    names = [*real[::-1], *SNR, "auc@real", "auc"]
    assert metric_order(names, "eer") == [*SNR, *real, "auc", "auc@real"]
