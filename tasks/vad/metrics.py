"""Frame-level detection metrics of the VAD task: EER (%) pooled and per SNR bin, and ROC AUC.

Speech frames are the positive class (a higher score means "more likely speech"). Frames of all
test mixtures are pooled; a bin pools the frames of the mixtures whose SNR falls in it. A bin with
no mixtures, or without both classes, is left out rather than reported as NaN.

A binary detector (0/1 decisions) has a single operating point, where the DET recipe's tie order
would invent others: `decision_metrics` reports its half total error rate (miss + false alarm) / 2
under the name "eer", and its AUC (ties counted one half, so 1 − HTER).
"""

from __future__ import annotations

import numpy as np

from tradeoff_bench.tasks.scoring import equal_error_rate, roc_auc
from tradeoff_bench.tasks.vad.mixing import SNR_BINS


def frame_metrics(scores: np.ndarray, labels: np.ndarray, snr_db: np.ndarray) -> dict[str, float]:
    """{"eer", "eer@snr<5", ..., "auc"} from (mixtures, frames) scores and 0/1 labels."""
    return _metrics(scores, labels, snr_db, _eer)


def decision_metrics(decisions: np.ndarray, labels: np.ndarray, snr_db: np.ndarray) -> dict[str, float]:
    """As `frame_metrics`, for 0/1 decisions: "eer" is the half total error rate (%)."""
    if not np.isin(decisions, (0, 1)).all():
        raise ValueError("decisions must be 0 or 1")
    return _metrics(decisions, labels, snr_db, _hter)


def _metrics(scores: np.ndarray, labels: np.ndarray, snr_db: np.ndarray, error_rate: object) -> dict[str, float]:
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    snr_db = np.asarray(snr_db, dtype=np.float64)
    if scores.shape != labels.shape or scores.shape[0] != snr_db.size:
        raise ValueError(f"scores {scores.shape}, labels {labels.shape} and {snr_db.size} SNRs do not match")
    metrics = {"eer": error_rate(scores, labels)}  # type: ignore[operator]
    for name, low, high in SNR_BINS:
        rows = (snr_db >= low) & (snr_db < high)
        chosen = labels[rows]
        if chosen.any() and not chosen.all():
            metrics[f"eer@{name}"] = error_rate(scores[rows], chosen)  # type: ignore[operator]
    metrics["auc"] = roc_auc(scores[labels], scores[~labels])
    return metrics


def _eer(scores: np.ndarray, labels: np.ndarray) -> float:
    return 100.0 * equal_error_rate(scores[labels], scores[~labels])[0]


def _hter(decisions: np.ndarray, labels: np.ndarray) -> float:
    if labels.all() or not labels.any():
        raise ValueError("the half total error rate needs both classes")
    return 100.0 * (float(np.mean(decisions[labels] < 0.5)) + float(np.mean(decisions[~labels] >= 0.5))) / 2
