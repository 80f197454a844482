"""Does the board's ranking survive real audio? Kendall's τ between the proxy test and the real test.

A task with a real-audio test set (vad: `eer@real`, tasks/vad/realtest.py) scores every candidate on
both. At a budget b, each seed of a method is represented by its best candidate with MACs <= b by
the proxy test (`pareto.seed_budget_choices`, the leaderboard's rule); the method's proxy and real
scores are the means over those seeds. τ is Kendall's τ-b (`scipy.stats.kendalltau`) between the
methods' proxy and real scores: +1 when the real test orders the methods as the board does, 0 when
the board says nothing about the real order, −1 when it reverses it.

The interval resamples each method's seeds with replacement (the same candidates, both scores of a
seed kept together) and recomputes τ; its 95 % percentile range is the interval. The verdict is
`survives` when the interval lies above 0, `reversed` when below, else `not shown`; the board is
marked when a budget's ranking does not survive or the real test's best method is not the proxy's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tradeoff_bench.bench.report.bootstrap import LEVEL, N_RESAMPLES, SEED, percentile_interval
from tradeoff_bench.bench.report.format import markdown_table, number
from tradeoff_bench.bench.report.frame import method_rows, ok_rows
from tradeoff_bench.bench.report.pareto import seed_budget_choices

REAL_TAG = "real"
"""Metrics `<primary>@real` are the real-audio test set's (`tasks.vad.realtest.TAG`)."""
BUDGETS: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)
MIN_METHODS = 3
SURVIVES, REVERSED, NOT_SHOWN = "survives", "reversed", "not shown"
COLUMNS = ["budget", "methods", "tau", "ci_low", "ci_high", "proxy_best", "real_best", "verdict"]


def real_metric(primary: str) -> str:
    return f"{primary}@{REAL_TAG}"


def rank_agreement(board: pd.DataFrame, budgets: Sequence[float] = BUDGETS, level: float = LEVEL) -> pd.DataFrame:
    """One row per budget with at least `MIN_METHODS` methods scored on both tests (`COLUMNS`);
    empty where the board has no real test."""
    ok = ok_rows(method_rows(board))
    if ok.empty:
        return pd.DataFrame(columns=COLUMNS)
    name = real_metric(str(ok["primary_metric"].iloc[0]))
    real = ok.set_index("record_id")["metrics"].map(lambda metrics: metrics.get(name, np.nan)).astype(float)
    if not real.notna().any():
        return pd.DataFrame(columns=COLUMNS)
    higher = bool(ok["higher_is_better"].iloc[0])
    choices = seed_budget_choices(ok, budgets).dropna(subset=["record_id"])
    choices = choices.assign(real=choices["record_id"].map(real))
    rows = []
    for budget, chosen in choices.groupby("budget", sort=True):
        scored = chosen.groupby("method").filter(lambda seeds: bool(seeds["real"].notna().all()))
        per_method = [(m, s[["metric", "real"]].to_numpy(float)) for m, s in scored.groupby("method", sort=True)]
        if len(per_method) < MIN_METHODS:
            continue
        methods = [m for m, _ in per_method]
        means = np.array([seeds.mean(axis=0) for _, seeds in per_method])
        tau = _tau(means[:, 0], means[:, 1])
        low, high = percentile_interval(_resampled_taus([seeds for _, seeds in per_method]), level)
        best = np.argmax if higher else np.argmin
        verdict = SURVIVES if low > 0 else REVERSED if high < 0 else NOT_SHOWN
        rows.append(
            (budget, len(methods), tau, low, high, methods[best(means[:, 0])], methods[best(means[:, 1])], verdict)
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def disagreements(table: pd.DataFrame) -> pd.DataFrame:
    """The budgets where the ranking is not shown to survive, or the real test's best method differs."""
    if table.empty:
        return table
    return table[(table["verdict"] != SURVIVES) | (table["proxy_best"] != table["real_best"])]


def agreement_markdown(table: pd.DataFrame, primary: str, axis_label: str, level: int) -> str:
    """The board's section on the proxy-versus-real ranking; '' without a real test."""
    if table.empty:
        return ""
    title = "#" * (level + 1)
    name = real_metric(primary)
    rows = [
        [
            f"≤{row.budget:.0%} {axis_label}",
            str(row.methods),
            f"{number(row.tau, '+.2f')} [{number(row.ci_low, '+.2f')}, {number(row.ci_high, '+.2f')}]",
            row.verdict,
            row.proxy_best,
            row.real_best,
        ]
        for row in table.itertuples()
    ]
    headers = ["budget", "methods", "Kendall τ [95 % CI]", "ranking", f"best by `{primary}`", f"best by `{name}`"]
    off = disagreements(table)
    mark = (
        f"**On the real test the board's ranking changes** ({_reasons(off, axis_label)}): read `{name}` "
        "before choosing a method for real recordings.\n\n"
        if len(off)
        else f"The ranking by `{primary}` survives on the real test at every budget shown.\n\n"
    )
    return (
        f"{title} Proxy test versus real test\n\n{mark}"
        f"Per budget, each seed's best candidate by `{primary}` (the leaderboard's choice) is scored on both "
        f"tests; τ is Kendall's τ-b between the methods' mean `{primary}` and mean `{name}` (+1: same order, "
        "0: unrelated, −1: reversed), with a 95 % bootstrap interval over seeds. `survives`: the interval "
        "lies above 0; `reversed`: below; `not shown`: it includes 0.\n\n" + markdown_table(headers, rows)
    )


def _reasons(rows: pd.DataFrame, axis_label: str) -> str:
    """Per budget, how the real test departs from the proxy: its τ verdict, its best method."""
    reasons = []
    for row in rows.itertuples():
        found = [] if row.verdict == SURVIVES else [f"τ {row.verdict}"]
        if row.proxy_best != row.real_best:
            found.append(f"best `{row.real_best}`, not `{row.proxy_best}`")
        reasons.append(f"≤{row.budget:.0%} {axis_label}: {', '.join(found)}")
    return "; ".join(reasons)


def _tau(x: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import kendalltau

    return float(kendalltau(x, y).statistic)


def _resampled_taus(per_method: list[np.ndarray]) -> np.ndarray:
    """τ of `N_RESAMPLES` replicates, each drawing every method's seeds with replacement."""
    rng = np.random.default_rng(SEED)
    means = np.stack(
        [seeds[rng.integers(0, len(seeds), size=(N_RESAMPLES, len(seeds)))].mean(axis=1) for seeds in per_method],
        axis=1,
    )  # (resamples, methods, 2)
    return np.array([_tau(sample[:, 0], sample[:, 1]) for sample in means])
