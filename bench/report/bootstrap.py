"""Bootstrap replicates of each candidate's primary metric over its test items.

A task keeps per-row scores of every ok candidate in `outputs/<record_id>/scores.npz` (arrays
`item`, `label`, `score`; see the per-item score contract in `tasks`). Rows of one item (an
utterance, a mixture of many correlated frames, an example) are never split: a resample draws whole
items with replacement, in the Poisson form of the bootstrap: in replicate b, item i counts
w[b, i] ~ Poisson(1) times, drawn from a generator seeded by (`SEED`, i) alone. So replicate b of
any two candidates scored on the same test items saw the same resampled test set, which is what
pairs them (see `bench.report.verdicts`), whatever else is on the board.

Speed: each candidate is reduced once to per-item sufficient statistics, an (items x k)
matrix, and every resample is then a row of weights times that matrix. For the detection metrics
(`eer`, `auc`) the statistics are per-item class-conditional histograms of the scores on one grid of
at most `GRID_BINS` bins per candidate (every distinct score when there are that few, else both
classes' quantiles), and the metric follows from the cumulative counts with the thresholds of
`tasks.scoring` (a trial is accepted when its score is above the threshold). With every distinct
score a bin edge the histogram EER is the exact one; with quantile bins a bin holds at most
2/GRID_BINS of either class, which bounds the error of the EER by 200/GRID_BINS percentage points;
measured on 600,000 correlated frame rows of 300 items it was below 0.01 pt (tests check both).
For `mse` the statistics are each item's sum of squared errors and row count.

`scipy.stats.bootstrap` is not used for the resampling itself: it draws indices afresh per call and
per statistic, so it cannot share one resampled test set across candidates (pairs) or across seeds
(the hierarchical intervals), and its vectorised statistic would rebuild histograms per resample.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tradeoff_bench.bench.files import atomic_write

SCORES_FILE = "scores.npz"
N_RESAMPLES = 1000
SEED = 0
LEVEL = 0.95
GRID_BINS = 1024
STATISTICS_VERSION = 1
"""Bumped when the statistics change, so cached replicates of older code are not reused."""
DENSE_FILL = 0.05
"""Per-item statistics are held dense when the rows fill at least this share of the matrix's cells."""


@dataclass(frozen=True)
class ItemStatistics:
    """Per-item sufficient statistics of one candidate's metric."""

    items: np.ndarray
    """Sorted unique item ids (rows of `matrix`)."""
    matrix: object
    """The (items x k) per-item statistics: a float32 array, or a scipy sparse matrix when sparse."""
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


def resampled(stats: ItemStatistics, weights: np.ndarray) -> np.ndarray:
    """The metric under each row of item `weights` (resamples x the candidate's items)."""
    summed = np.asarray(weights @ stats.matrix)  # resamples x k, float32: counts stay exact below 2**24
    return stats.metric(summed)


def item_weights(items: np.ndarray, n_resamples: int = N_RESAMPLES, seed: int = SEED) -> np.ndarray:
    """(n_resamples x items) Poisson(1) counts; an item's column depends only on (seed, its id)."""
    return _weights(np.asarray(items, dtype=np.int64).tobytes(), n_resamples, seed).copy()


@functools.lru_cache(maxsize=8)
def _weights(items: bytes, n_resamples: int, seed: int) -> np.ndarray:
    ids = np.frombuffer(items, dtype=np.int64)
    if (ids < 0).any():
        raise ValueError("item ids must be non-negative integers")
    columns = [np.random.default_rng([seed, int(i)]).poisson(1.0, n_resamples) for i in ids]
    return np.stack(columns, axis=1).astype(np.float32) if columns else np.zeros((n_resamples, 0), np.float32)


def board_replicates(
    rows: pd.DataFrame,
    run_dirs: Mapping[str, Path],
    n_resamples: int = N_RESAMPLES,
    seed: int = SEED,
    cache: Path | None = None,
    known: Replicates | None = None,
) -> Replicates:
    """Replicates of every ok candidate of one board (rows of one task and corpus) that has a scores
    file; the others get a note. `run_dirs` maps record ids to their run directory. Replicates are
    cached in `cache` (default `cache_dir()`), keyed by the scores file (path, size, mtime), the
    metric and the resampling settings, so a report re-reads a file only when it changed. `known`
    (a published board's, `bench.report.bundle`) gives the replicates or notes of the ids it holds."""
    out = Replicates()
    cache = cache_dir() if cache is None else cache
    known = known or Replicates()
    for row in rows.itertuples():
        if row.record_id in known.values:
            out.values[row.record_id] = known.values[row.record_id]
            continue
        if row.record_id in known.notes and _scores_path(row, run_dirs) is None:
            out.notes[row.record_id] = known.notes[row.record_id]
            continue
        path = _scores_path(row, run_dirs)
        if path is None:
            out.notes[row.record_id] = "no per-item scores file"
            continue
        stored = cache / f"{_cache_key(path, row.primary_metric, n_resamples, seed)}.npy"
        if stored.is_file():
            out.values[row.record_id] = np.load(stored)
            continue
        try:
            stats = item_statistics(row.primary_metric, *load_scores(path))
        except (KeyError, ValueError) as error:  # a metric without a statistic, a malformed file
            out.notes[row.record_id] = str(error.args[0])
            continue
        values = resampled(stats, item_weights(stats.items, n_resamples, seed))
        buffer = io.BytesIO()
        np.save(buffer, values)
        atomic_write(stored, buffer.getvalue())
        out.values[row.record_id] = values
    return out


def cache_dir() -> Path:
    """Where replicates are cached: `$TRADEOFF_BENCH_CACHE/bootstrap`, by default under ~/.cache."""
    from tradeoff_bench.tasks.debian import CACHE_ENV

    base = os.environ.get(CACHE_ENV)
    return (Path(base) if base else Path.home() / ".cache" / "tradeoff-bench") / "bootstrap"


def _cache_key(path: Path, metric: str, n_resamples: int, seed: int) -> str:
    stat = path.stat()
    spec = [
        str(path.resolve()),
        stat.st_size,
        stat.st_mtime_ns,
        metric,
        n_resamples,
        seed,
        GRID_BINS,
        STATISTICS_VERSION,
    ]
    return hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:32]


def with_intervals(board: pd.DataFrame, reps: Replicates, level: float = LEVEL) -> pd.DataFrame:
    """`board` with its `metric_ci_*` columns filled from `reps`; rows it does not cover (failed
    records, reference systems) get their reason."""
    from tradeoff_bench.bench.report.frame import PEERS

    table = reps.intervals(level).set_index("record_id")
    out = board.copy()
    ids = out["record_id"]
    for name in ("metric_ci_low", "metric_ci_high", "metric_ci_note"):
        out[name] = ids.map(table[name]) if len(table) else np.nan
    default = np.where(out["method"] == PEERS, "reference system", "no metric (failed)")
    out["metric_ci_note"] = out["metric_ci_note"].where(ids.isin(table.index), default)
    return out


def _scores_path(row: Any, run_dirs: Mapping[str, Path]) -> Path | None:
    run_dir = run_dirs.get(row.record_id)
    names = [p for p in (row.outputs or []) if Path(p).name == SCORES_FILE]
    if run_dir is None or not names or not (Path(run_dir) / names[0]).is_file():
        return None
    return Path(run_dir) / names[0]


def _matrix(index: np.ndarray, column: np.ndarray, shape: tuple[int, int], values: np.ndarray | None = None):
    """Per-item statistics summed by (item, column): dense where most cells are filled (BLAS products
    are faster), else scipy sparse (one row per utterance fills one cell of thousands)."""
    if len(index) >= DENSE_FILL * shape[0] * shape[1]:
        flat = np.bincount(index * shape[1] + column, weights=values, minlength=shape[0] * shape[1])
        return flat.reshape(shape).astype(np.float32)
    from scipy.sparse import csr_matrix

    data = np.ones(len(index)) if values is None else values
    return csr_matrix((data, (index, column)), shape=shape, dtype=np.float32)


def _histograms(items: np.ndarray, index: np.ndarray, label: np.ndarray, score: np.ndarray):
    """Per-item (negative | positive) histograms on one grid: a bin holds scores in (edge[i-1], edge[i]].

    The grid is every distinct score when there are at most GRID_BINS, else the union of each class's
    GRID_BINS / 2 quantiles, so that no bin holds more than 2 / GRID_BINS of either class."""
    if np.isnan(label).any() or not np.isin(label, (0.0, 1.0)).all():
        raise ValueError("detection scores need labels 0 or 1 on every row")
    ordered = np.sort(score)
    distinct = ordered[np.concatenate([[True], np.diff(ordered) != 0])]
    if len(distinct) > GRID_BINS:
        levels = np.linspace(0, 1, GRID_BINS // 2 + 1)[1:]
        distinct = np.unique(
            np.concatenate(
                [np.quantile(score[label == c], levels) for c in (0.0, 1.0) if (label == c).any()] + [ordered[-1:]]
            )
        )
    k = len(distinct)
    column = np.searchsorted(distinct, score, side="left") + k * label.astype(np.int64)
    return _matrix(index, column, (len(items), 2 * k)), k


def _rates(summed: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    negative, positive = summed[:, :k], summed[:, k:]
    n_neg, n_pos = negative.sum(axis=1, keepdims=True), positive.sum(axis=1, keepdims=True)
    return negative, positive, n_neg, n_pos


def _eer(items, index, label, score) -> ItemStatistics:
    matrix, k = _histograms(items, index, label, score)

    def metric(summed: np.ndarray) -> np.ndarray:
        # thresholds at every bin edge; the first threshold of `tasks.scoring` (below every score: no
        # miss, every false alarm) can only win a tie that the last one (every miss, no false alarm)
        # wins with the same EER, so it is left out
        negative, positive, n_neg, n_pos = _rates(summed, k)
        with np.errstate(divide="ignore", invalid="ignore"):
            miss = np.cumsum(positive, axis=1) / n_pos
            false_alarm = 1 - np.cumsum(negative, axis=1) / n_neg
        best = np.argmin(np.abs(miss - false_alarm), axis=1)[:, None]
        return 100 * (np.take_along_axis(miss, best, 1) + np.take_along_axis(false_alarm, best, 1))[:, 0] / 2

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
    matrix = _matrix(
        np.concatenate([index, index]),
        np.repeat(np.arange(2), rows),
        (len(items), 2),
        np.concatenate([score, np.ones(rows)]),
    )

    def metric(summed: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return summed[:, 0] / summed[:, 1]

    return ItemStatistics(items, matrix, metric)


_STATISTICS: dict[str, Callable[..., ItemStatistics]] = {"eer": _eer, "auc": _auc, "mse": _mean}
"""Keyed by metric name, so a metric spec's `from_scores` and its bootstrap statistic pair by name."""
