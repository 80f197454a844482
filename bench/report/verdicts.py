"""Intervals over seeds and test items, and paired verdicts against `dense` at matched cost.

At a budget b (a fraction of the full dense model's MACs) each seed of a method is represented by
its best candidate with MACs <= b (`pareto.seed_budget_choices`; the rule of the leaderboard's
metric-at-budget columns). Its bootstrap replicates (`bench.report.bootstrap`) are the metric on
resampled test sets, the same resampled sets for every candidate of the board.

- **Method at a budget** (`budget_intervals`): each replicate resamples the seeds with replacement
  and aggregates (the metric's aggregate, mean or median) the chosen candidates' replicate values:
  a hierarchical bootstrap, seeds then items. The 95 % interval is its central percentile range.
- **Versus dense** (`dense_verdicts`): pairs are the seeds where both the method and `dense` have a
  candidate under the ceiling (the same seed, and the same test items since every candidate is
  scored on the board's test set). Each replicate resamples the pairs and averages the paired
  differences `method - dense` computed on the same resampled items. `diff` is the mean observed
  difference. The verdict is `better` or `worse` when the 95 % interval excludes 0 (in the metric's
  direction), else `not resolved`. `p_better` is the probability of improvement of Agarwal et al.
  (NeurIPS 2021; rliable's `probability_of_improvement` on one task): over every (method seed, dense
  seed) pair of the chosen candidates, the share where the method's metric is better, ties counting
  one half, i.e. the Mann-Whitney U statistic over n * m (`scipy.stats.mannwhitneyu`).

A candidate without per-item scores contributes its observed metric to every replicate (no item
resampling), and the `over` column says which sources of noise the interval covers. Only an interval
over seeds and items gives a verdict: a percentile bootstrap of a handful of seeds alone is too
narrow to trust, so without per-item scores every comparison stays `not resolved`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tradeoff_bench.bench.report.bootstrap import LEVEL, N_RESAMPLES, SEED, Replicates, percentile_interval
from tradeoff_bench.bench.report.pareto import seed_budget_choices

CONTROL = "dense"
VERDICT_BUDGETS: tuple[float, ...] = (0.25, 0.5, 0.75)
BETTER, WORSE, UNRESOLVED = "better", "worse", "not resolved"
ITEMS_AND_SEEDS = "seeds and items"


def budget_intervals(
    ok: pd.DataFrame, reps: Replicates, budgets: Sequence[float], aggregate: str, level: float = LEVEL
) -> pd.DataFrame:
    """method, budget, ci_low, ci_high, ci_over: per method and budget, the interval over seeds and items."""
    choices = seed_budget_choices(ok, budgets).dropna(subset=["record_id"])
    reduce = np.median if aggregate == "median" else np.mean
    rows = []
    for (method, budget), chosen in choices.groupby(["method", "budget"], sort=True):
        matrix, over = _replicate_matrix(chosen, reps)
        low, high = percentile_interval(reduce(_resample_seeds(matrix), axis=1), level)
        rows.append((method, budget, low, high, over))
    return pd.DataFrame(rows, columns=["method", "budget", "ci_low", "ci_high", "ci_over"])


def dense_verdicts(
    ok: pd.DataFrame,
    reps: Replicates,
    higher_is_better: bool,
    budgets: Sequence[float] = VERDICT_BUDGETS,
    level: float = LEVEL,
) -> pd.DataFrame:
    """method, budget, diff, ci_low, ci_high, pairs, over, verdict, p_better for every method but
    `dense` (none when the board has no `dense` candidates)."""
    choices = seed_budget_choices(ok, budgets).dropna(subset=["record_id"])
    control = choices[choices["method"] == CONTROL]
    rows = []
    for (method, budget), chosen in choices[choices["method"] != CONTROL].groupby(["method", "budget"], sort=True):
        paired = chosen.merge(control[control["budget"] == budget], on="seed", suffixes=("", "_dense"))
        if paired.empty:
            continue
        theirs = paired.assign(record_id=paired["record_id_dense"], metric=paired["metric_dense"])
        diff, low, high, over = paired_interval(paired, theirs, reps, level)
        verdict = _verdict(low, high, higher_is_better) if over == ITEMS_AND_SEEDS else UNRESOLVED
        dense = control.loc[control["budget"] == budget, "metric"]
        p_better = probability_of_improvement(chosen["metric"], dense, higher_is_better)
        rows.append((method, budget, diff, low, high, len(paired), over, verdict, p_better))
    columns = ["method", "budget", "diff", "ci_low", "ci_high", "pairs", "over", "verdict", "p_better"]
    return pd.DataFrame(rows, columns=columns)


def paired_interval(
    mine: pd.DataFrame, theirs: pd.DataFrame, reps: Replicates, level: float = LEVEL
) -> tuple[float, float, float, str]:
    """(mean difference, ci_low, ci_high, over) of `mine - theirs`, two frames of `record_id` and
    `metric` whose rows are pairs (the same seed): replicates resample the pairs, and each pair's
    difference is taken on the same resampled test items."""
    mine_matrix, over_mine = _replicate_matrix(mine, reps)
    theirs_matrix, over_theirs = _replicate_matrix(theirs, reps)
    diff = float(np.mean(mine["metric"].to_numpy(float) - theirs["metric"].to_numpy(float)))
    low, high = percentile_interval(_resample_seeds(mine_matrix - theirs_matrix).mean(axis=1), level)
    over = over_mine if over_mine == over_theirs else "seeds; items for some candidates"
    return diff, low, high, over


def seed_interval(chosen: pd.DataFrame, reps: Replicates, level: float = LEVEL) -> tuple[float, float, str]:
    """(ci_low, ci_high, over) of the mean metric of `chosen` (one candidate per seed), over seeds and items."""
    matrix, over = _replicate_matrix(chosen, reps)
    low, high = percentile_interval(_resample_seeds(matrix).mean(axis=1), level)
    return low, high, over


def probability_of_improvement(mine: Sequence[float], theirs: Sequence[float], higher_is_better: bool) -> float:
    """P(a seed of `mine` beats a seed of `theirs`), ties one half: Mann-Whitney U / (n * m)."""
    from scipy.stats import mannwhitneyu

    x, y = np.asarray(mine, dtype=float), np.asarray(theirs, dtype=float)
    if not (x.size and y.size):
        return float("nan")
    sign = 1.0 if higher_is_better else -1.0
    return float(mannwhitneyu(sign * x, sign * y).statistic / (x.size * y.size))


def _replicate_matrix(chosen: pd.DataFrame, reps: Replicates) -> tuple[np.ndarray, str]:
    """(seeds x resamples) replicate values of the chosen candidates, and which noise they cover."""
    found = [reps.values.get(rid) for rid in chosen["record_id"]]
    width = next((len(v) for v in found if v is not None), N_RESAMPLES)
    matrix = np.stack([v if v is not None else np.full(width, metric) for v, metric in zip(found, chosen["metric"])])
    have = sum(v is not None for v in found)
    over = ITEMS_AND_SEEDS if have == len(found) else ("seeds" if have == 0 else "seeds; items for some candidates")
    return matrix, over


def _resample_seeds(matrix: np.ndarray) -> np.ndarray:
    """(resamples x seeds): replicate b draws the seeds with replacement and reads their column b."""
    seeds, resamples = matrix.shape
    draw = np.random.default_rng(SEED).integers(0, seeds, size=(resamples, seeds))
    return matrix[draw, np.arange(resamples)[:, None]]


def _verdict(low: float, high: float, higher_is_better: bool) -> str:
    if not (np.isfinite(low) and np.isfinite(high)):
        return UNRESOLVED
    if low > 0:
        return BETTER if higher_is_better else WORSE
    if high < 0:
        return WORSE if higher_is_better else BETTER
    return UNRESOLVED
