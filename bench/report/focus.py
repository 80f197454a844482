"""The metric axis range of a Pareto plot, chosen from the fronts so that one outlier cannot squeeze them.

The range spans the summarised fronts (`pareto.label_front`) and the plotted reference points,
except values beyond Tukey's far-out fences (3 interquartile ranges past the quartiles), padded by
a fraction of the span and never past the metric's ideal value. Figures draw what lies outside at
the axis edge rather than stretching the axis; the site lets a reader zoom out.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

FENCE_IQR = 3.0
PAD_FRACTION = 0.08


def focus_range(
    values: ArrayLike, ideal: float | None = None, higher_is_better: bool = False
) -> tuple[float, float] | None:
    """(low, high) of the metric axis for `values` (NaN ignored); None without a finite value."""
    data = np.asarray(values, dtype=float)
    data = data[np.isfinite(data)]
    if not len(data):
        return None
    q1, q3 = np.percentile(data, [25, 75])
    fence = FENCE_IQR * (q3 - q1)
    kept = data[(data >= q1 - fence) & (data <= q3 + fence)]
    low, high = float(kept.min()), float(kept.max())
    pad = PAD_FRACTION * (high - low) if high > low else 0.05 * (abs(high) or 1.0)
    low, high = low - pad, high + pad
    if ideal is not None and np.isfinite(ideal):
        low, high = (low, min(high, ideal)) if higher_is_better else (max(low, ideal), high)
    return low, high
