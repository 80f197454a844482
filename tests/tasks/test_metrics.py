"""Per-item scores: metrics computed from them, and the scores.npz file they are kept in."""

from pathlib import Path

import numpy as np
import pytest

from tradeoff_bench.tasks.metrics import ItemScores, metric_spec
from tradeoff_bench.tasks.scoring import equal_error_rate, roc_auc


def detection_scores(rows: int = 500) -> ItemScores:
    rng = np.random.default_rng(0)
    label = (rng.random(rows) < 0.3).astype(np.float32)
    return ItemScores(np.arange(rows) // 5, label, rng.normal(size=rows) + 1.5 * label)


def test_detection_metrics_are_the_scoring_modules_own() -> None:
    scores = detection_scores()
    positive, negative = scores.score[scores.label == 1], scores.score[scores.label == 0]
    assert scores.metric("eer") == 100 * equal_error_rate(positive, negative)[0]
    assert scores.metric("eer@snr<5") == scores.metric("eer")  # a detail name follows its base
    assert scores.metric("auc") == roc_auc(positive, negative)
    assert 5 < scores.metric("eer") < 45


def test_mse_is_the_mean_of_the_rows() -> None:
    errors = np.array([0.5, 1.5, 4.0], dtype=np.float32)
    assert ItemScores(np.arange(3), np.full(3, np.nan), errors).metric("mse") == pytest.approx(2.0)


def test_a_file_round_trip_keeps_every_array_and_its_type(tmp_path: Path) -> None:
    scores = detection_scores()
    loaded = ItemScores.load(scores.save(tmp_path / ItemScores.FILE))
    assert (loaded.item.dtype, loaded.label.dtype, loaded.score.dtype) == (np.int64, np.float32, np.float32)
    for column in ("item", "label", "score"):
        assert np.array_equal(getattr(loaded, column), getattr(scores, column))
    with np.load(tmp_path / ItemScores.FILE) as raw:  # the contract readers rely on: three named arrays
        assert sorted(raw.files) == ["item", "label", "score"]


def test_bad_scores_and_files_fail_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="one length"):
        ItemScores(np.arange(3), np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        ItemScores(np.arange(3), np.full(3, np.nan), np.zeros(3)).metric("eer")
    with pytest.raises(ValueError, match="cannot be computed from per-item scores"):
        detection_scores().metric("min_tdcf")
    np.savez_compressed(tmp_path / "other.npz", score=np.zeros(2))
    with pytest.raises(ValueError, match="missing item, label"):
        ItemScores.load(tmp_path / "other.npz")
    assert metric_spec("eer").from_scores is not None
