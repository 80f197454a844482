"""Pareto fronts, hypervolume and metric-at-budget, per (task, corpus, method, seed).

Hypervolume (HV) is measured in a unit square where both axes are minimised:

- x = cost fraction = MACs / full_macs, the MACs of the task's full-width dense model
  (`cost_fraction` of `bench.report.frame`, i.e. `macs_fraction` unless the MACs are theoretical);
- y = normalised metric = (metric - ideal) / (reference - ideal), where `reference` is the
  primary metric of the task's trivial predictor (the record's `reference_metric`) and `ideal`
  the metric's perfect value (`ideal_metric`: 0 for lower-is-better metrics, so y = metric /
  reference; 100 for higher-is-better metrics in %, else 1, so y = (ideal - metric) / (ideal -
  reference)). y = 0 is a perfect model, y = 1 is no better than the trivial predictor.

The reference point is (x_ref, y_ref) = (1, 1): the full dense model's cost and the trivial
predictor's metric. HV is the area of the region of [0, 1]^2 dominated by the candidates, i.e. the
union of the boxes [x_i, 1] x [y_i, 1]; it lies in [0, 1], and 1 would be a zero-cost perfect model.
Coordinates are clipped to [0, 1], so a candidate costing more than the full model (x > 1) or doing
worse than the trivial predictor (y > 1) contributes nothing. A candidate better than the ideal
counts as ideal. Without a usable reference (missing, or not worse than the ideal) HV is NaN.

Reference systems (`frame.PEERS` rows) are not a method: the per-seed functions skip them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from bench.report.frame import method_rows

SEED_KEYS: list[str] = ["task", "corpus", "method", "seed"]
DEFAULT_BUDGETS: tuple[float, ...] = (0.25, 0.5, 1.0)
BUDGET_TOLERANCE = 1e-9
"""A candidate at exactly the budget counts as within it despite float rounding of the fraction."""


def pareto_front(points: ArrayLike, higher_is_better: bool = False) -> np.ndarray:
    """Indices of the non-dominated rows of `points` (n x 2: cost, metric), by ascending cost.

    Cost is minimised; the metric is minimised, or maximised when `higher_is_better`. Of equal
    points only the first (lowest index) is kept; rows with a NaN are ignored.
    """
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    x = pts[:, 0]
    y = -pts[:, 1] if higher_is_better else pts[:, 1]
    valid = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    order = valid[np.lexsort((valid, y[valid], x[valid]))]
    keep: list[int] = []
    best = np.inf
    for index in order:
        if y[index] < best:
            keep.append(int(index))
            best = y[index]
    return np.asarray(keep, dtype=int)


def normalised_metric(metric: ArrayLike, reference: ArrayLike, ideal: ArrayLike,
                      higher_is_better: ArrayLike) -> np.ndarray:
    """y = (metric - ideal) / (reference - ideal): 0 perfect, 1 trivial; NaN without a usable reference."""
    metric, reference, ideal = (np.asarray(a, dtype=float) for a in (metric, reference, ideal))
    span = reference - ideal
    usable = np.where(np.asarray(higher_is_better, dtype=bool), span < 0, span > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(usable, (metric - ideal) / np.where(usable, span, 1.0), np.nan)


def hypervolume(points: ArrayLike) -> float:
    """Area dominated by normalised (x, y) points up to the reference point (1, 1), both minimised.

    Points are clipped to [0, 1]^2 first; rows with a NaN are ignored (no points: 0).
    """
    pts = np.clip(np.asarray(points, dtype=float).reshape(-1, 2), 0.0, 1.0)
    pts = pts[np.isfinite(pts).all(axis=1)]
    if not len(pts):
        return 0.0
    front = pts[pareto_front(pts)]
    widths = np.diff(np.append(front[:, 0], 1.0))
    return float(np.sum(widths * (1.0 - front[:, 1])))


def seed_hypervolumes(rows: pd.DataFrame) -> pd.DataFrame:
    """HV per (task, corpus, method, seed) of successful rows (see `frame.ok_rows`)."""
    results = []
    for key, group in method_rows(rows).groupby(SEED_KEYS, sort=True):
        y = normalised_metric(group["metric"], group["reference_metric"], group["ideal_metric"],
                              group["higher_is_better"])
        hv = np.nan if np.isnan(y).all() else hypervolume(np.column_stack([group["cost_fraction"], y]))
        results.append((*key, hv))
    return pd.DataFrame(results, columns=[*SEED_KEYS, "hypervolume"])


def seed_budget_metrics(rows: pd.DataFrame, budgets: Sequence[float] = DEFAULT_BUDGETS) -> pd.DataFrame:
    """Best metric per (task, corpus, method, seed, budget) among candidates with
    cost_fraction <= budget (NaN where a seed has none)."""
    results = []
    for key, group in method_rows(rows).groupby(SEED_KEYS, sort=True):
        higher = bool(group["higher_is_better"].iloc[0])
        for budget in budgets:
            within = group.loc[group["cost_fraction"] <= budget + BUDGET_TOLERANCE, "metric"]
            best = (within.max() if higher else within.min()) if len(within) else np.nan
            results.append((*key, float(budget), float(best)))
    return pd.DataFrame(results, columns=[*SEED_KEYS, "budget", "metric"])


def front_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of `rows` on their joint (cost_macs, metric) front, by ascending cost."""
    if rows.empty:
        return rows
    higher = bool(rows["higher_is_better"].iloc[0])
    index = pareto_front(rows[["cost_macs", "metric"]].to_numpy(dtype=float), higher)
    return rows.iloc[index]


def median_front(rows: pd.DataFrame) -> pd.DataFrame:
    """One method's fronts summarised over its seeds (rows of one task, corpus and method).

    Each seed's front is a step function: at cost x, its best metric among candidates costing <= x.
    At every candidate cost of the method this gives columns `cost_macs`; `metric`, the median over
    seeds, a seed without a candidate that cheap counting as the worst (so the median exists where at
    least half the seeds reach that cost); `best` and `worst`, the best and worst seed among those
    that reach it (the band); `seeds`, how many reach it. Only costs with a median are kept. This is
    the per-budget median; a median attainment surface would replace it.
    """
    columns = ["cost_macs", "metric", "best", "worst", "seeds"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    sign = -1.0 if bool(rows["higher_is_better"].iloc[0]) else 1.0
    costs = np.unique(rows["cost_macs"].to_numpy(dtype=float))
    steps = []
    for _, seed in rows.groupby("seed", sort=True):
        cost, score = seed["cost_macs"].to_numpy(dtype=float), sign * seed["metric"].to_numpy(dtype=float)
        steps.append([score[cost <= x].min() if (cost <= x).any() else np.inf for x in costs])
    scores = np.asarray(steps)  # seeds x costs, minimised, inf where a seed has nothing that cheap
    reached = np.isfinite(scores)
    median = np.median(scores, axis=0)
    best = np.where(reached, scores, np.inf).min(axis=0)
    worst = np.where(reached, scores, -np.inf).max(axis=0)
    table = pd.DataFrame({"cost_macs": costs, "metric": sign * median, "best": sign * best,
                          "worst": sign * worst, "seeds": reached.sum(axis=0)})
    return table[np.isfinite(median)].reset_index(drop=True)
