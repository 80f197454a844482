"""Paper cost against real cost: does ranking by MACs rank by measured latency? (`cost_vs_latency.md`)

Per board, over every method candidate with both MACs and a measured latency (`latency_ms` from the
run's latency phase):

- the Spearman rank correlation between MACs and latency, with a 95 % percentile bootstrap interval
  over candidates (scipy.stats.bootstrap, pairs resampled, 2000 resamples, seed 0);
- the candidates whose MACs are below `dense` x1's but whose latency is not below it (the full dense
  model's median latency over seeds): cheap on paper, not in practice (pruned RNNs whose kernels do not
  shrink, unstructured sparsity whose zeros dense kernels still multiply, int8 models whose float graph
  is counted).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tradeoff_bench.bench.report.format import markdown_table, number, si
from tradeoff_bench.bench.report.frame import method_rows
from tradeoff_bench.bench.report.leaderboard import BoardInfo

CONTROL = "dense"
RESAMPLES = 2000


@dataclass(frozen=True)
class RankCorrelation:
    candidates: int
    rho: float
    ci_low: float
    ci_high: float


def latency_candidates(board: pd.DataFrame) -> pd.DataFrame:
    """Successful method candidates with both MACs and a latency."""
    rows = method_rows(board)
    rows = rows[(rows["status"] == "ok") & rows["macs"].notna() & rows["latency_ms"].notna()]
    return rows


def rank_correlation(rows: pd.DataFrame) -> RankCorrelation:
    """Spearman's rho between `macs` and `latency_ms` with its bootstrap interval (NaN under 3 rows,
    or when either column is constant)."""
    from scipy import stats

    macs = rows["macs"].to_numpy(dtype=float)
    latency = rows["latency_ms"].to_numpy(dtype=float)
    n = len(rows)
    if n < 3 or np.ptp(macs) == 0 or np.ptp(latency) == 0:
        return RankCorrelation(n, math.nan, math.nan, math.nan)
    rho = float(stats.spearmanr(macs, latency).statistic)

    def statistic(x: np.ndarray, y: np.ndarray) -> float:
        if np.ptp(x) == 0 or np.ptp(y) == 0:  # a resample of one repeated candidate: no ranking, no correlation
            return 0.0
        return float(stats.spearmanr(x, y).statistic)

    result = stats.bootstrap(
        (macs, latency),
        statistic,
        paired=True,
        vectorized=False,
        n_resamples=RESAMPLES,
        method="percentile",
        rng=np.random.default_rng(0),
    )
    return RankCorrelation(n, rho, float(result.confidence_interval.low), float(result.confidence_interval.high))


def paper_only_savings(rows: pd.DataFrame) -> tuple[pd.DataFrame, float | None, float | None]:
    """(candidates with MACs below dense x1's and latency not below it, dense x1's MACs, its median
    latency); empty with Nones when the board has no dense x1 candidate with a latency."""
    full = rows[(rows["method"] == CONTROL) & (rows["macs"] == rows["full_macs"])]
    if full.empty:
        return rows.iloc[:0], None, None
    macs, latency = float(full["macs"].iloc[0]), float(full["latency_ms"].median())
    found = rows[(rows["macs"] < macs) & (rows["latency_ms"] >= latency)]
    return found.sort_values(["method", "macs", "seed", "label"], kind="mergesort"), macs, latency


def cost_vs_latency_markdown(board: pd.DataFrame, info: BoardInfo) -> str:
    """`cost_vs_latency.md` of one board."""
    rows = latency_candidates(board)
    parts = [f"# Paper cost vs real cost: {info.task} ({info.corpus})\n"]
    if rows.empty:
        parts.append(
            "No candidate has a measured latency: run `tradeoff-bench latency RUN` (or `run` without --no-latency).\n"
        )
        return "\n".join(parts)
    corr = rank_correlation(rows)
    parts.append(
        f"- Spearman rank correlation between MACs and eager single-thread latency over {corr.candidates} "
        f"candidates: {number(corr.rho, '.3f')} [95 % bootstrap CI {number(corr.ci_low, '.3f')}, "
        f"{number(corr.ci_high, '.3f')}]; 1 means MACs order the candidates exactly as their latency does"
    )
    found, macs, latency = paper_only_savings(rows)
    if macs is None or latency is None:
        parts.append(f"- No `{CONTROL}` x1 candidate with a latency: no paper-only savings to list\n")
        return "\n".join(parts)
    parts.append(
        f"- `{CONTROL}` x1: {si(macs)} MACs, {number(latency, '.3g')} ms (median over seeds). "
        f"Candidates with fewer MACs that are not faster: {len(found)} of {int((rows['macs'] < macs).sum())}\n"
    )
    if len(found):
        headers = ["method", "label", "seed", "MACs", "MACs / dense x1", "latency ms [95 % CI]", "latency / dense x1"]
        table = [
            [
                str(r["method"]),
                str(r["label"]),
                str(r["seed"]),
                si(r["macs"]),
                f"{r['macs'] / macs:.0%}",
                f"{number(r['latency_ms'], '.3g')} [{number(r['latency_ci_low_ms'], '.3g')}, "
                f"{number(r['latency_ci_high_ms'], '.3g')}]",
                f"{r['latency_ms'] / latency:.2f}",
            ]
            for _, r in found.iterrows()
        ]
        parts.append(markdown_table(headers, table))
    return "\n".join(parts)
