"""Detection scoring shared by the speech tasks: DET curve, equal error rate, ROC AUC.

The EER follows the recipe of the ASVspoof organisers' evaluation code, because other recipes
(interpolating the crossing, or scanning only unique thresholds) give different values on small
score sets: scores are sorted once (stable sort, positives before negatives on ties as they come),
every sorted score is a threshold (a trial is accepted when its score is above the threshold), and
the EER is the mean of the miss and false-alarm rates at the threshold where they are closest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class DetCurve:
    miss: np.ndarray
    """Miss rate (positives rejected) at each threshold; starts at 0."""
    false_alarm: np.ndarray
    """False-alarm rate (negatives accepted) at each threshold; starts at 1."""
    thresholds: np.ndarray


def det_curve(positive: ArrayLike, negative: ArrayLike) -> DetCurve:
    """Miss and false-alarm rates with every sorted score as a threshold."""
    pos, neg = _scores(positive, "positive"), _scores(negative, "negative")
    scores = np.concatenate([pos, neg])
    is_positive = np.concatenate([np.ones(pos.size), np.zeros(neg.size)])
    order = np.argsort(scores, kind="mergesort")
    rejected_positives = np.cumsum(is_positive[order])
    rejected = np.arange(1, scores.size + 1)
    accepted_negatives = neg.size - (rejected - rejected_positives)
    miss = np.concatenate([[0.0], rejected_positives / pos.size])
    false_alarm = np.concatenate([[1.0], accepted_negatives / neg.size])
    thresholds = np.concatenate([[scores[order[0]] - 0.001], scores[order]])
    return DetCurve(miss, false_alarm, thresholds)


def equal_error_rate(positive: ArrayLike, negative: ArrayLike) -> tuple[float, float]:
    """(EER as a fraction, its threshold); positives are the class that should score high."""
    curve = det_curve(positive, negative)
    index = int(np.argmin(np.abs(curve.miss - curve.false_alarm)))
    return float((curve.miss[index] + curve.false_alarm[index]) / 2), float(curve.thresholds[index])


def roc_auc(positive: ArrayLike, negative: ArrayLike) -> float:
    """Probability that a random positive outscores a random negative (ties count one half)."""
    pos, neg = _scores(positive, "positive"), _scores(negative, "negative")
    scores = np.concatenate([pos, neg])
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(scores.size)
    sorted_scores = scores[order]
    # average ranks over ties
    unique, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts + 1) / 2
    ranks[order] = np.repeat(average, counts)
    rank_sum = ranks[: pos.size].sum()
    return float((rank_sum - pos.size * (pos.size + 1) / 2) / (pos.size * neg.size))


def _scores(values: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).ravel()
    if array.size == 0:
        raise ValueError(f"no {name} scores: EER and AUC need both classes")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} scores contain NaN or infinite values")
    return array
