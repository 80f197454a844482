import numpy as np
import pytest

from tradeoff_bench.tasks.scoring import det_curve, equal_error_rate, roc_auc


def test_perfect_separation_has_zero_eer_and_unit_auc() -> None:
    eer, threshold = equal_error_rate([3.0, 4.0], [1.0, 2.0])
    assert eer == 0.0 and 2.0 <= threshold < 3.0
    assert roc_auc([3.0, 4.0], [1.0, 2.0]) == 1.0


def test_hand_computed_eer() -> None:
    # sorted: 0.1n 0.2p 0.3n 0.4p 0.5n 0.6p -> at threshold 0.3: miss 1/3, false alarm 1/3
    eer, threshold = equal_error_rate([0.2, 0.4, 0.6], [0.1, 0.3, 0.5])
    assert eer == pytest.approx(1 / 3) and threshold == 0.3
    assert roc_auc([0.2, 0.4, 0.6], [0.1, 0.3, 0.5]) == pytest.approx(6 / 9)


def test_ties_follow_the_stable_sort_positives_first() -> None:
    # all scores tied: the sweep rejects the 2 positives first (they come first), then negatives
    curve = det_curve([1.0, 1.0], [1.0, 1.0])
    assert curve.miss.tolist() == [0.0, 0.5, 1.0, 1.0, 1.0]
    assert curve.false_alarm.tolist() == [1.0, 1.0, 1.0, 0.5, 0.0]
    eer, _ = equal_error_rate([1.0, 1.0], [1.0, 1.0])
    assert eer == 1.0  # rates first meet at index 2, where both are 1: ties are scored pessimistically
    assert roc_auc([1.0, 1.0], [1.0, 1.0]) == 0.5


def test_bad_scores_are_rejected() -> None:
    with pytest.raises(ValueError, match="no negative"):
        equal_error_rate([1.0], [])
    with pytest.raises(ValueError, match="NaN"):
        equal_error_rate([np.nan], [1.0])
