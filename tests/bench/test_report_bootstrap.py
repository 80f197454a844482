"""Item bootstrap of a candidate's metric: exact on the observed set, whole items resampled."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tradeoff_bench.bench.report import bootstrap
from tradeoff_bench.bench.report.bootstrap import (
    board_replicates,
    item_statistics,
    item_weights,
    percentile_interval,
    resampled,
)
from tradeoff_bench.tasks.metrics import ItemScores
from tradeoff_bench.tasks.scoring import equal_error_rate, roc_auc


def detection_scores(rng: np.random.Generator, items: int, rows_per_item: int, shift: float = 1.5):
    """Items with one label each, scores drawn per row around an item-level offset (correlated rows)."""
    item = np.repeat(np.arange(items), rows_per_item)
    label = np.repeat(rng.integers(0, 2, items), rows_per_item).astype(np.float32)
    offset = np.repeat(rng.normal(0, 0.5, items), rows_per_item)
    score = (label * shift + offset + rng.normal(0, 1, item.size)).astype(np.float32)
    return item, label, score


def observed(metric: str, item, label, score) -> float:
    stats = item_statistics(metric, item, label, score)
    return float(resampled(stats, np.ones((1, len(stats.items)), np.float32))[0])


def test_histogram_eer_is_exact_with_every_score_a_bin_edge():
    item, label, score = detection_scores(np.random.default_rng(0), 300, 1)
    exact = 100 * equal_error_rate(score[label == 1], score[label == 0])[0]
    assert observed("eer", item, label, score) == pytest.approx(exact, abs=1e-4)  # float32 rates
    assert observed("auc", item, label, score) == pytest.approx(roc_auc(score[label == 1], score[label == 0]))


def test_histogram_eer_on_a_quantile_grid_is_within_its_bound():
    item, label, score = detection_scores(np.random.default_rng(1), 200, 400)  # 80,000 frame rows
    exact = 100 * equal_error_rate(score[label == 1], score[label == 0])[0]
    error = abs(observed("eer", item, label, score) - exact)
    assert error <= 200 / bootstrap.GRID_BINS and error < 0.02  # the bound is 0.2 pt; measured far below
    assert observed("auc", item, label, score) == pytest.approx(roc_auc(score[label == 1], score[label == 0]), abs=1e-3)


def test_mean_metric_is_the_row_mean_and_resamples_whole_items():
    item = np.array([0, 0, 0, 1, 2, 2])
    score = np.array([1.0, 1.0, 1.0, 4.0, 0.0, 2.0])
    stats = item_statistics("mse", item, np.full(6, np.nan), score)
    assert observed("mse", item, np.full(6, np.nan), score) == pytest.approx(score.mean())
    # item 0 twice, item 1 once: its three rows count twice, never split
    value = resampled(stats, np.array([[2.0, 1.0, 0.0]], np.float32))[0]
    assert value == pytest.approx((2 * 3.0 + 4.0) / 7)


def test_an_items_weights_depend_only_on_the_seed_and_its_id():
    weights = item_weights(np.arange(50), 2000, seed=3)
    assert weights.shape == (2000, 50) and weights.mean() == pytest.approx(1.0, abs=0.02)  # Poisson(1)
    assert np.array_equal(item_weights(np.array([7, 40]), 2000, seed=3), weights[:, [7, 40]])  # pairs any subset
    assert not np.array_equal(weights, item_weights(np.arange(50), 2000, seed=4))


def test_unknown_metric_and_bad_labels_are_clear_errors():
    with pytest.raises(KeyError, match="no item bootstrap for metric 'bleu'"):
        item_statistics("bleu", np.zeros(2), np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="labels 0 or 1"):
        item_statistics("eer", np.arange(2), np.array([0.0, 2.0]), np.zeros(2))


def write_scores(run_dir: Path, record_id: str, item, label, score) -> str:
    relative = f"outputs/{record_id}/scores.npz"
    (run_dir / relative).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        run_dir / relative,
        item=np.asarray(item, np.int64),
        label=np.asarray(label, np.float32),
        score=np.asarray(score, np.float32),
    )
    return relative


def test_board_replicates_cover_the_observed_metric_and_note_missing_files(tmp_path: Path):
    rng = np.random.default_rng(2)
    item, label, score = detection_scores(rng, 400, 20)
    path = write_scores(tmp_path, "a", item, label, score)
    rows = pd.DataFrame({"record_id": ["a", "b"], "primary_metric": ["eer", "eer"], "outputs": [[path], []]})
    reps = board_replicates(rows, {"a": tmp_path, "b": tmp_path}, n_resamples=300, cache=tmp_path / "cache")
    table = reps.intervals().set_index("record_id")
    low, high = table.loc["a", ["metric_ci_low", "metric_ci_high"]]
    point = observed("eer", item, label, score)
    assert low < point < high and high - low > 1.0  # 400 items: a CI of a few points, not zero
    assert table.loc["b", "metric_ci_note"] == "no per-item scores file" and np.isnan(table.loc["b", "metric_ci_low"])
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1
    again = board_replicates(rows, {"a": tmp_path, "b": tmp_path}, n_resamples=300, cache=tmp_path / "cache")
    fresh = board_replicates(rows, {"a": tmp_path, "b": tmp_path}, n_resamples=300, cache=tmp_path / "other")
    assert np.array_equal(again.values["a"], reps.values["a"]) and np.array_equal(fresh.values["a"], reps.values["a"])


def test_a_malformed_scores_file_is_a_note_not_a_crash(tmp_path: Path):
    relative = "outputs/a/scores.npz"
    (tmp_path / relative).parent.mkdir(parents=True)
    np.savez_compressed(tmp_path / relative, item=np.arange(3), score=np.zeros(3))
    rows = pd.DataFrame({"record_id": ["a"], "primary_metric": ["eer"], "outputs": [[relative]]})
    table = board_replicates(rows, {"a": tmp_path}, cache=tmp_path / "cache").intervals()
    assert "scores file lacks arrays ['label']" in table["metric_ci_note"].iloc[0]


@pytest.mark.parametrize("metric", ["mse", "eer"])
def test_the_item_bootstrap_agrees_with_scipys_percentile_bootstrap(metric: str) -> None:
    """Our Poisson item bootstrap against `scipy.stats.bootstrap` (which draws whole items afresh):
    the same 95 % percentile interval up to Monte Carlo error, on items of several rows each."""
    from scipy.stats import bootstrap

    rng = np.random.default_rng(1)
    items, rows = 400, 5
    item = np.repeat(np.arange(items), rows)
    label = np.repeat(rng.integers(0, 2, items), rows).astype(float)
    score = label * 1.2 + np.repeat(rng.normal(size=items), rows) + rng.normal(size=items * rows)
    if metric == "mse":
        label, score = np.full(items * rows, np.nan), score**2
    stats = item_statistics(metric, item, label, score)
    ours = percentile_interval(resampled(stats, item_weights(stats.items, n_resamples=4000)))

    def statistic(chosen: np.ndarray) -> float:
        picked = (chosen[:, None] * rows + np.arange(rows)).ravel()
        return float(ItemScores(np.repeat(np.arange(len(chosen)), rows), label[picked], score[picked]).metric(metric))

    theirs = bootstrap(
        (np.arange(items),), statistic, vectorized=False, n_resamples=4000, method="percentile", random_state=2
    ).confidence_interval
    width = theirs.high - theirs.low
    assert ours[0] == pytest.approx(theirs.low, abs=0.1 * width)
    assert ours[1] == pytest.approx(theirs.high, abs=0.1 * width)
