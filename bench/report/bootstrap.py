"""Bootstrap replicates of each candidate's primary metric over its test items.

A task keeps per-row scores of every ok candidate in `outputs/<record_id>/scores.npz` (arrays
`item`, `label`, `score`; see the per-item score contract in `tasks`). Rows of one item (an
utterance, a mixture of many correlated frames, an example) are never split: a resample draws whole
items with replacement. One table of item weights per board (`N_RESAMPLES` multinomial draws over
the union of the board's test items, seeded by `SEED`) is shared by every candidate of the board,
so replicate b of two candidates saw the same resampled test set: that is what pairs them (see
`bench.report.verdicts`).

Speed: each candidate is reduced once to per-item sufficient statistics, a sparse (items x k)
matrix, and every resample is then a row of weights times that matrix. For the detection metrics
(`eer`, `auc`) the statistics are per-item class-conditional histograms of the scores on one grid of
`GRID_BINS` bins per candidate (the pooled scores' quantiles, or every distinct score when there are
fewer), and the metric follows from the cumulative counts with the thresholds of `tasks.scoring`
(a trial is accepted when its score is above the threshold). With every distinct score a bin edge
the histogram EER is the exact one; with quantile bins a bin holds at most 1/GRID_BINS of the rows,
which bounds the error of the EER by about 100/GRID_BINS percentage points (tests check both). For
`mse` the statistics are each item's sum of squared errors and row count.

`scipy.stats.bootstrap` is not used for the resampling itself: it draws indices afresh per call and
per statistic, so it cannot share one resampled test set across candidates (pairs) or across seeds
(the hierarchical intervals), and its vectorised statistic would rebuild histograms per resample.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

SCORES_FILE = "scores.npz"
N_RESAMPLES = 1000
SEED = 0
LEVEL = 0.95
GRID_BINS = 2048


@dataclass(frozen=True)
class ItemStatistics:
    """Per-item sufficient statistics of one candidate's metric."""

    items: np.ndarray
    """Sorted unique item ids (rows of `matrix`)."""
    matrix: object
    """A scipy sparse (items x k) matrix of per-item statistics."""
    metric: Callable[[np.ndarray], np.ndarray]
    """(resamples x k) summed statistics -> (resamples,) metric values."""


@dataclass
class Replicates:
    """Bootstrap replicates of the primary metric per candidate (`record_id`), or why there are none."""

    values: dict[str, np.ndarray] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def intervals(self, level: float = LEVEL) -> pd.DataFrame:
        """record_id, metric_ci_low, metric_ci_high, metric_ci_note (the reason where there is no CI)."""
        rows = [(rid, *percentile_interval(v, level), "") for rid, v in self.values.items()]
        rows += [(rid, np.nan, np.nan, note) for rid, note in self.notes.items()]
        return pd.DataFrame(rows, columns=["record_id", "metric_ci_low", "metric_ci_high", "metric_ci_note"])


def percentile_interval(values: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The central `level` percentile interval of bootstrap replicates (NaN without finite ones)."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if not len(finite):
        return np.nan, np.nan
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def load_scores(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(item, label, score) of a scores file; a malformed file is a one-line error naming it."""
    with np.load(path) as data:
        missing = {"item", "label", "score"} - set(data.files)
        if missing:
            raise ValueError(f"{path}: scores file lacks arrays {sorted(missing)}")
        item, label, score = (np.asarray(data[k]) for k in ("item", "label", "score"))
    if not item.shape == label.shape == score.shape or item.ndim != 1:
        raise ValueError(f"{path}: item, label and score must be 1-D arrays of one length")
    return item.astype(np.int64), label.astype(np.float64), score.astype(np.float64)


def item_statistics(metric: str, item: np.ndarray, label: np.ndarray, score: np.ndarray) -> ItemStatistics:
    """Per-item statistics of `metric` (its base name before `@`); KeyError for a metric without one."""
    base = metric.split("@", 1)[0]
    if base not in _STATISTICS:
        raise KeyError(f"no item bootstrap for metric {metric!r} (known: {', '.join(sorted(_STATISTICS))})")
    items, index = np.unique(item, return_inverse=True)
    return _STATISTICS[base](items, index, label, score)


def resampled(stats: ItemStatistics, weights: np.ndarray, board_items: np.ndarray) -> np.ndarray:
    """The metric under each row of item `weights` (resamples x board items, columns `board_items`)."""
    columns = np.searchsorted(board_items, stats.items)
    if np.any(columns >= len(board_items)) or np.any(board_items[np.minimum(columns, len(board_items) - 1)]
                                                     != stats.items):
        raise ValueError("a candidate has test items outside its board's item set")
    summed = np.asarray((stats.matrix.T @ weights[:, columns].T).T)  # resamples x k
    return stats.metric(summed)


def item_weights(n_items: int, n_resamples: int = N_RESAMPLES, seed: int = SEED) -> np.ndarray:
    """(n_resamples x n_items) multinomial counts: each row one resample of the items with replacement."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_items, np.full(n_items, 1.0 / n_items), size=n_resamples).astype(np.float32)


def board_replicates(rows: pd.DataFrame, run_dirs: Mapping[str, Path], n_resamples: int = N_RESAMPLES,
                     seed: int = SEED) -> Replicates:
    """Replicates of every ok candidate of one board (rows of one task and corpus) that has a scores
    file; the others get a note. `run_dirs` maps record ids to their run directory."""
    out = Replicates()
    found: dict[str, ItemStatistics] = {}
    for row in rows.itertuples():
        path = _scores_path(row, run_dirs)
        if path is None:
            out.notes[row.record_id] = "no per-item scores file"
            continue
        try:
            found[row.record_id] = item_statistics(row.primary_metric, *load_scores(path))
        except KeyError as error:
            out.notes[row.record_id] = str(error.args[0])
    if found:
        items = np.unique(np.concatenate([s.items for s in found.values()]))
        weights = item_weights(len(items), n_resamples, seed)
        out.values = {rid: resampled(stats, weights, items) for rid, stats in found.items()}
    return out


def with_intervals(board: pd.DataFrame, reps: Replicates, level: float = LEVEL) -> pd.DataFrame:
    """`board` with its `metric_ci_*` columns filled from `reps`; rows it does not cover (failed
    records, reference systems) get their reason."""
    from bench.report.frame import PEERS

    table = reps.intervals(level).set_index("record_id")
    out = board.copy()
    ids = out["record_id"]
    for name in ("metric_ci_low", "metric_ci_high", "metric_ci_note"):
        out[name] = ids.map(table[name]) if len(table) else np.nan
    default = np.where(out["method"] == PEERS, "reference system", "no metric (failed)")
    out["metric_ci_note"] = out["metric_ci_note"].where(ids.isin(table.index), default)
    return out


def _scores_path(row: object, run_dirs: Mapping[str, Path]) -> Path | None:
    run_dir = run_dirs.get(row.record_id)
    names = [p for p in (row.outputs or []) if Path(p).name == SCORES_FILE]
    if run_dir is None or not names or not (Path(run_dir) / names[0]).is_file():
        return None
    return Path(run_dir) / names[0]


def _sparse(items: np.ndarray, index: np.ndarray, column: np.ndarray, k: int, weights: np.ndarray | None = None):
    from scipy.sparse import csr_matrix

    data = np.ones(len(index)) if weights is None else weights
    return csr_matrix((data, (index, column)), shape=(len(items), k), dtype=np.float64)


def _histograms(items: np.ndarray, index: np.ndarray, label: np.ndarray, score: np.ndarray):
    """Per-item (negative | positive) histograms on one grid: a bin holds scores in (edge[i-1], edge[i]]."""
    if np.isnan(label).any() or not np.isin(label, (0.0, 1.0)).all():
        raise ValueError("detection scores need labels 0 or 1 on every row")
    edges = np.unique(score)
    if len(edges) > GRID_BINS:
        edges = np.unique(np.quantile(score, np.linspace(0, 1, GRID_BINS + 1)[1:]))
    k = len(edges)
    column = np.searchsorted(edges, score, side="left") + k * label.astype(np.int64)
    return _sparse(items, index, column, 2 * k), k


def _rates(summed: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    negative, positive = summed[:, :k], summed[:, k:]
    n_neg, n_pos = negative.sum(axis=1, keepdims=True), positive.sum(axis=1, keepdims=True)
    return negative, positive, n_neg, n_pos


def _eer(items, index, label, score) -> ItemStatistics:
    matrix, k = _histograms(items, index, label, score)

    def metric(summed: np.ndarray) -> np.ndarray:
        negative, positive, n_neg, n_pos = _rates(summed, k)
        with np.errstate(divide="ignore", invalid="ignore"):
            miss = np.hstack([np.zeros_like(n_pos), np.cumsum(positive, axis=1) / n_pos])
            false_alarm = np.hstack([np.ones_like(n_neg), 1 - np.cumsum(negative, axis=1) / n_neg])
        best = np.argmin(np.abs(miss - false_alarm), axis=1)
        pick = np.arange(len(summed))
        return 100 * (miss[pick, best] + false_alarm[pick, best]) / 2

    return ItemStatistics(items, matrix, metric)


def _auc(items, index, label, score) -> ItemStatistics:
    matrix, k = _histograms(items, index, label, score)

    def metric(summed: np.ndarray) -> np.ndarray:
        negative, positive, n_neg, n_pos = _rates(summed, k)
        below = np.cumsum(negative, axis=1) - negative
        with np.errstate(divide="ignore", invalid="ignore"):
            return (positive * (below + negative / 2)).sum(axis=1) / (n_pos[:, 0] * n_neg[:, 0])

    return ItemStatistics(items, matrix, metric)


def _mean(items, index, label, score) -> ItemStatistics:
    rows = len(index)
    matrix = _sparse(items, np.concatenate([index, index]),
                     np.concatenate([np.zeros(rows, np.int64), np.ones(rows, np.int64)]), 2,
                     np.concatenate([score, np.ones(rows)]))

    def metric(summed: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return summed[:, 0] / summed[:, 1]

    return ItemStatistics(items, matrix, metric)


_STATISTICS: dict[str, Callable[..., ItemStatistics]] = {"eer": _eer, "auc": _auc, "mse": _mean}
"""Keyed by metric name, so a metric spec's `from_scores` and its bootstrap statistic pair by name."""
