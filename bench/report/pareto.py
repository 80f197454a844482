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

from tradeoff_bench.bench.report.frame import method_rows

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


def normalised_metric(
    metric: ArrayLike, reference: ArrayLike, ideal: ArrayLike, higher_is_better: ArrayLike
) -> np.ndarray:
    """y = (metric - ideal) / (reference - ideal): 0 perfect, 1 trivial; NaN without a usable reference."""
    metric, reference, ideal = (np.asarray(a, dtype=float) for a in (metric, reference, ideal))
    span = reference - ideal
    usable = np.where(np.asarray(higher_is_better, dtype=bool), span < 0, span > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(usable, (metric - ideal) / np.where(usable, span, 1.0), np.nan)


def hypervolume(points: ArrayLike) -> float:
    """Area dominated by normalised (x, y) points up to the reference point (1, 1), both minimised.

    Points are clipped to [0, 1]^2 first; rows with a NaN are ignored (no points: 0). Computed by
    moocore; on the 72 seed fronts of the published default grid it matched the former hand-written
    sweep to 1.1e-16.
    """
    import moocore

    pts = np.clip(np.asarray(points, dtype=float).reshape(-1, 2), 0.0, 1.0)
    pts = pts[np.isfinite(pts).all(axis=1)]
    return float(moocore.hypervolume(pts, ref=[1.0, 1.0])) if len(pts) else 0.0


def seed_hypervolumes(rows: pd.DataFrame) -> pd.DataFrame:
    """HV per (task, corpus, method, seed) of successful rows (see `frame.ok_rows`)."""
    results = []
    for key, group in method_rows(rows).groupby(SEED_KEYS, sort=True):
        y = normalised_metric(
            group["metric"], group["reference_metric"], group["ideal_metric"], group["higher_is_better"]
        )
        hv = np.nan if np.isnan(y).all() else hypervolume(np.column_stack([group["cost_fraction"], y]))
        results.append((*key, hv))
    return pd.DataFrame(results, columns=[*SEED_KEYS, "hypervolume"])


def seed_budget_metrics(rows: pd.DataFrame, budgets: Sequence[float] = DEFAULT_BUDGETS) -> pd.DataFrame:
    """Best metric per (task, corpus, method, seed, budget) among candidates with
    cost_fraction <= budget (NaN where a seed has none)."""
    return seed_budget_choices(rows, budgets).drop(columns="record_id")


def seed_budget_choices(rows: pd.DataFrame, budgets: Sequence[float] = DEFAULT_BUDGETS) -> pd.DataFrame:
    """Per (task, corpus, method, seed, budget) the `record_id` and `metric` of the seed's best
    candidate with cost_fraction <= budget (ties: the cheaper; None and NaN where a seed has none)."""
    results = []
    for key, group in method_rows(rows).groupby(SEED_KEYS, sort=True):
        higher = bool(group["higher_is_better"].iloc[0])
        ranked = group.assign(_score=-group["metric"] if higher else group["metric"])
        ranked = ranked.sort_values(["_score", "cost_fraction", "record_id"], kind="mergesort")
        for budget in budgets:
            within = ranked[ranked["cost_fraction"] <= budget + BUDGET_TOLERANCE]
            best = within.iloc[0] if len(within) else None
            results.append(
                (
                    *key,
                    float(budget),
                    None if best is None else best["record_id"],
                    np.nan if best is None else float(best["metric"]),
                )
            )
    return pd.DataFrame(results, columns=[*SEED_KEYS, "budget", "record_id", "metric"])


def front_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of `rows` on their joint (cost, metric) front, by ascending cost."""
    if rows.empty:
        return rows
    higher = bool(rows["higher_is_better"].iloc[0])
    index = pareto_front(rows[["cost", "metric"]].to_numpy(dtype=float), higher)
    return rows.iloc[index]


def label_front(rows: pd.DataFrame, aggregate: str = "mean") -> pd.DataFrame:
    """One method's front over its seeds, through candidates that exist (rows of one task, corpus and
    method).

    The candidates are grouped by `label` (one configuration, a candidate per seed); each label is one
    point: its candidates' mean `cost` and the `aggregate` ("mean" or "median", the board's) of their
    `metric`, with the least and greatest metric over them (`low`, `high`: the spread over seeds) and
    how many `seeds` it has. Returned are the labels' non-dominated points (cost minimised, the metric
    in its direction), by ascending cost: columns `label`, `cost`, `metric`, `low`, `high`, `seeds`.
    Rows without a finite cost or metric are ignored.
    """
    columns = ["label", "cost", "metric", "low", "high", "seeds"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    values = rows.assign(cost=rows["cost"].astype(float), metric=rows["metric"].astype(float))
    values = values[np.isfinite(values["cost"]) & np.isfinite(values["metric"])]
    if values.empty:
        return pd.DataFrame(columns=columns)
    groups = values.groupby("label", sort=True, dropna=False)
    points = (
        pd.DataFrame(
            {
                "cost": groups["cost"].mean(),
                "metric": groups["metric"].median() if aggregate == "median" else groups["metric"].mean(),
                "low": groups["metric"].min(),
                "high": groups["metric"].max(),
                "seeds": groups["seed"].nunique(),
            }
        )
        .rename_axis("label")
        .reset_index()
    )
    keep = pareto_front(points[["cost", "metric"]].to_numpy(dtype=float), bool(values["higher_is_better"].iloc[0]))
    return points.iloc[keep][columns].reset_index(drop=True)
