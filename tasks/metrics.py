"""Metrics with their direction, unit and aggregation, so reports never special-case names, and the
per-item scores a metric is computed from, so reports can resample whole test items.

A task's `evaluate` returns plain `{name: value}`; names of the form `base@detail` (e.g.
`eer@snr<5`) inherit the spec of `base`. A metric with `from_scores` is a function of a task's
per-item scores (`ItemScores`: one row per scored unit, e.g. a frame, tagged with the item it
belongs to, e.g. its mixture), so a bootstrap can resample items and recompute it exactly as
`evaluate` does. Torch-free: the report layer reads these without loading a model.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, ClassVar

from tradeoff_bench.core.registry import Registry

if TYPE_CHECKING:  # numpy is imported where scores are computed: `list` and `--help` stay instant
    import numpy as np

FromScores = Callable[["np.ndarray", "np.ndarray"], float]
"""(label, score) over every row of `ItemScores` -> the metric's value."""


@dataclass(frozen=True)
class Metric:
    name: str
    higher_is_better: bool
    unit: str = ""
    ideal: float = 0.0
    """The metric's perfect value (the hypervolume maps it to 0)."""
    description: str = ""
    aggregate: str = "mean"  # how seeds combine in tables: "mean" (with std) or "median"
    from_scores: FromScores | None = field(default=None, compare=False, repr=False)
    """The metric of per-item scores, `from_scores(label, score)`; None when it needs more (min t-DCF)."""


METRICS: Registry[Metric] = Registry("metric")


def register_metric(metric: Metric) -> Metric:
    return METRICS.register(metric.name)(metric)


def metric_spec(name: str) -> Metric:
    """The spec of a metric name, following `base@detail` names to their base."""
    return METRICS.get(name.split("@", 1)[0])


def _classes(label: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positive scores, negative scores), each in row order (the DET recipe's tie order)."""
    import numpy as np

    label, score = np.asarray(label), np.asarray(score)
    if label.shape != score.shape or not np.isin(label, (0, 1)).all():
        raise ValueError(f"labels must be 0 or 1, one per score; got {label.shape} labels for {score.shape} scores")
    positive = label == 1
    return score[positive], score[~positive]


def eer_from_scores(label: np.ndarray, score: np.ndarray) -> float:
    """Equal error rate in % (tasks.scoring's recipe), positives (label 1) scoring high."""
    from tradeoff_bench.tasks.scoring import equal_error_rate

    return 100.0 * equal_error_rate(*_classes(label, score))[0]


def auc_from_scores(label: np.ndarray, score: np.ndarray) -> float:
    from tradeoff_bench.tasks.scoring import roc_auc

    return roc_auc(*_classes(label, score))


def mse_from_scores(label: np.ndarray, score: np.ndarray) -> float:
    """Mean of the rows' own squared errors (rows of equal size, so this is the pooled MSE)."""
    import numpy as np

    score = np.asarray(score)
    if score.size == 0:
        raise ValueError("no scores: the mean squared error needs at least one row")
    return float(np.mean(score, dtype=np.float64))


register_metric(Metric("mse", higher_is_better=False, description="mean squared error", from_scores=mse_from_scores))
register_metric(
    Metric("eer", higher_is_better=False, unit="%", description="equal error rate", from_scores=eer_from_scores)
)
register_metric(
    Metric("auc", higher_is_better=True, ideal=1.0, description="area under the ROC curve", from_scores=auc_from_scores)
)
register_metric(Metric("min_tdcf", higher_is_better=False, description="minimum tandem DCF"))
register_metric(Metric("accuracy", higher_is_better=True, unit="%", ideal=100.0, description="accuracy"))


@dataclass(frozen=True)
class ItemScores:
    """A model's scores on a test split, one row per scored unit, as kept in `scores.npz`.

    `item` is the resampling unit of each row (an utterance, a mixture, an example: rows of one item
    are correlated, so a bootstrap resamples items, never rows); `label` is 1 for the positive class
    (bona fide, speech), 0 for the negative, NaN where the metric needs none (mse); `score` is the
    detection score (higher: more positive), or for mse the row's own squared error.
    """

    item: np.ndarray
    label: np.ndarray
    score: np.ndarray
    FILE: ClassVar[str] = "scores.npz"

    def __post_init__(self) -> None:
        import numpy as np

        arrays: dict[str, np.ndarray] = {
            "item": np.asarray(self.item, dtype=np.int64),
            "label": np.asarray(self.label, dtype=np.float32),
            "score": np.asarray(self.score, dtype=np.float32),
        }
        if any(a.ndim != 1 for a in arrays.values()) or len({a.size for a in arrays.values()}) != 1:
            raise ValueError(
                "item, label and score must be 1-D arrays of one length; got shapes "
                + ", ".join(f"{k} {a.shape}" for k, a in arrays.items())
            )
        for name, array in arrays.items():
            object.__setattr__(self, name, array)

    def metric(self, name: str) -> float:
        """The metric `name` of these scores (its spec's `from_scores`)."""
        spec = metric_spec(name)
        if spec.from_scores is None:
            raise ValueError(f"metric {name!r} cannot be computed from per-item scores")
        return spec.from_scores(self.label, self.score)

    def to_bytes(self) -> bytes:
        """The `scores.npz` file's contents (numpy.savez_compressed)."""
        import numpy as np

        buffer = io.BytesIO()
        np.savez_compressed(buffer, item=self.item, label=self.label, score=self.score)
        return buffer.getvalue()

    def save(self, path: str | Path) -> Path:
        Path(path).write_bytes(self.to_bytes())
        return Path(path)

    @classmethod
    def load(cls, path: str | Path | BinaryIO) -> ItemScores:
        """Read a `scores.npz`; a file without the three arrays is a one-line ValueError."""
        import numpy as np

        with np.load(path, allow_pickle=False) as data:
            missing = {"item", "label", "score"} - set(data.files)
            if missing:
                raise ValueError(f"{path}: not a scores file (missing {', '.join(sorted(missing))})")
            return cls(data["item"], data["label"], data["score"])
