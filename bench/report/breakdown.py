"""The breakdown of one (task, corpus): secondary metrics of each method at a fixed budget.

Tasks report metrics beside their primary one: per condition (`eer@snr<5`, `eer@snr5-15`, ...),
per attack (`eer@A07` ... `eer@A19`) or another measure (`auc`). The breakdown shows them for one
comparable model per method and seed, the *selected candidate*:

- the candidate with the best primary metric among those with cost_fraction <= `budget` (0.5, the
  half-budget point, by default; ties: the cheaper, then label and cell id);
- a seed with no candidate within the budget falls back to its cheapest candidate (ties: the
  better primary metric, then label and cell id), and the table says in how many seeds that happened.

A cell is the seed aggregate (the metric spec's, "mean" unless registered otherwise) ± sample std
of that metric over the seeds' selected candidates; seeds whose candidate lacks the metric are
left out and counted. Reference systems (`bench.report.peers`) follow as extra rows with their own
figures. Columns are every metric name except the primary that the board's successful records
report, ordered by `metric_order`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from tradeoff_bench.bench.report.format import MISSING, markdown_table, number, percent, plus_minus
from tradeoff_bench.bench.report.frame import method_rows, metric_info, ok_rows, peer_rows
from tradeoff_bench.bench.report.leaderboard import BoardInfo, board_info
from tradeoff_bench.bench.report.pareto import BUDGET_TOLERANCE, SEED_KEYS
from tradeoff_bench.core.registry import natural_key

DEFAULT_BREAKDOWN_BUDGET = 0.5
_BAND = re.compile(r"(?P<prefix>.*?)(?P<op><=?|>=?)?(?P<low>\d+(?:\.\d+)?)(?:-(?P<high>\d+(?:\.\d+)?))?")


def metric_order(names: Iterable[str], primary: str = "") -> list[str]:
    """`names` in table order: the primary's `base@detail` family first, then the other bases, each
    base before its details. Details sort naturally, numeric bands by their interval, so `snr<5`,
    `snr5-15`, `snr15-25`, `snr>=25` and `A07` ... `A19` come out in reading order. A detail `set/...`
    belongs to a second test set: after the others, its pooled `base@set` first (`eer@real`,
    `eer@real/snr<5`, ...)."""

    names = set(names)
    primary_base = primary.split("@", 1)[0]
    sets = {name.partition("@")[2].split("/", 1)[0] for name in names if "/" in name.partition("@")[2]}

    def key(name: str) -> tuple:
        base, _, detail = name.partition("@")
        test_set, _, sub = detail.partition("/") if "/" in detail or detail in sets else ("", "", detail)
        return (
            base != primary_base,
            natural_key(base),
            "@" in name,
            natural_key(test_set),
            bool(sub),
            _detail_key(sub, natural_key),
        )

    return sorted(names, key=key)


def breakdown_metrics(board: pd.DataFrame) -> list[str]:
    """Metric names other than the primary that the board's successful records (peers too) report."""
    info = board_info(board)
    ok = pd.concat([method_rows(board).query("status == 'ok'"), peer_rows(board)])
    names = {name for metrics in ok["metrics"] for name in (metrics or {})}
    return metric_order(names - {info.metric}, info.metric)


def selected_candidates(rows: pd.DataFrame, budget: float = DEFAULT_BREAKDOWN_BUDGET) -> pd.DataFrame:
    """One row per (task, corpus, method, seed) of `rows`' successful method candidates: the best
    primary metric within `budget`, else the cheapest (column `fallback` True)."""
    rows = ok_rows(method_rows(rows))
    picked = []
    for _, group in rows.groupby(SEED_KEYS, sort=True):
        score = -group["metric"] if bool(group["higher_is_better"].iloc[0]) else group["metric"]
        ranked = group.assign(_score=score)
        within = ranked[ranked["cost_fraction"] <= budget + BUDGET_TOLERANCE]
        if len(within):
            best = within.sort_values(["_score", "cost_fraction", "label", "cell_id"], kind="mergesort").iloc[[0]]
        else:
            best = ranked.sort_values(["cost_fraction", "_score", "label", "cell_id"], kind="mergesort").iloc[[0]]
        picked.append(best.drop(columns="_score").assign(fallback=not len(within)))
    if not picked:
        return rows.assign(fallback=pd.Series(dtype=bool))
    return pd.concat(picked).reset_index(drop=True)


def breakdown_table(board: pd.DataFrame, budget: float = DEFAULT_BREAKDOWN_BUDGET) -> pd.DataFrame:
    """Numeric breakdown of one board: one row per method (natural order), then per reference point.

    Columns: name, kind ("method" | "reference"), origin (peers), seeds, fallback_seeds,
    cost_fraction_mean/_std, then for the primary metric and each `breakdown_metrics` name
    `<name>_<agg>`, `<name>_std`, `<name>_seeds`. Empty when the board has no secondary metric.
    """

    names = breakdown_metrics(board)
    if not names:
        return pd.DataFrame()
    info = board_info(board)
    selected = selected_candidates(board, budget)
    out = []
    for method in sorted(selected["method"].unique(), key=natural_key):
        mine = selected[selected["method"] == method]
        row: dict[str, Any] = {
            "name": method,
            "kind": "method",
            "origin": "",
            "seeds": len(mine),
            "fallback_seeds": int(mine["fallback"].sum()),
        }
        row.update(_spread("cost_fraction", mine["cost_fraction"], "mean"))
        for name in [info.metric, *names]:
            row.update(_spread(name, mine["metrics"].map(lambda m, n=name: _value(m, n)), _aggregate(name)))
        out.append(row)
    peers = peer_rows(board)
    for _, peer in sorted(peers.iterrows(), key=lambda item: natural_key(str(item[1]["label"]))):
        row = {
            "name": peer["label"],
            "kind": "reference",
            "origin": str((peer["facts"] or {}).get("origin") or "measured"),
        }
        row.update(_spread("cost_fraction", pd.Series([peer["cost_fraction"]]), "mean"))
        for name in [info.metric, *names]:
            row.update(_spread(name, pd.Series([_value(peer["metrics"], name)]), _aggregate(name)))
            row[f"{name}_seeds"] = pd.NA  # a reference point has no seeds
        out.append(row)
    table = pd.DataFrame(out)
    for column in [c for c in table.columns if c == "seeds" or c.endswith("_seeds")]:
        table[column] = table[column].astype("Int64")
    return table


def display_breakdown(table: pd.DataFrame, info: BoardInfo) -> tuple[list[str], list[list[str]]]:
    """(headers, rows) of strings for a `breakdown_table`."""
    names = [info.metric, *_names(table, info)]
    headers = ["method", "seeds", "MACs fraction", *[_header(n) for n in names]]
    rows = []
    for _, row in table.iterrows():
        if row["kind"] == "reference":
            origin = "published" if row["origin"] == "published" else "measured here"
            cells = [f"{row['name']} (reference point, {origin})", MISSING, percent(row["cost_fraction_mean"])]
            cells += [number(row[f"{n}_{_aggregate(n)}"], ".4g") for n in names]
        else:
            seeds = int(row["seeds"])
            cost = _percent_pm(row["cost_fraction_mean"], row["cost_fraction_std"])
            if row["fallback_seeds"]:
                cost += f" (cheapest in {row['fallback_seeds']}/{seeds} seeds)"
            cells = [str(row["name"]), str(seeds), cost]
            for name in names:
                cell = plus_minus(row[f"{name}_{_aggregate(name)}"], row[f"{name}_std"], ".4g", ".2g")
                if 0 < row[f"{name}_seeds"] < seeds:
                    cell += f" ({row[f'{name}_seeds']}/{seeds} seeds)"
                cells.append(cell)
        rows.append(cells)
    return headers, rows


def breakdown_rule(info: BoardInfo, budget: float) -> str:
    """The sentence above the table saying which candidate each seed contributes."""
    name = info.metric or "metric"
    return (
        f"Per seed, the selected candidate is the one with the best `{name}` among its candidates with "
        f"MACs ≤ {budget * 100:g}% of the full model (ties: the cheaper); a seed with none within that "
        "budget falls back to its cheapest candidate. A cell is the mean ± sample std over seeds of the "
        "selected candidates' metric (the median where a column says so); reference points show their "
        "own figures."
    )


def breakdown_markdown(
    table: pd.DataFrame, info: BoardInfo, budget: float = DEFAULT_BREAKDOWN_BUDGET, level: int = 1
) -> str:
    """The "Breakdown" section of `leaderboard.md` (empty without secondary metrics)."""
    if table.empty:
        return ""
    headers, rows = display_breakdown(table, info)
    return "\n".join(
        [
            f"{'#' * (level + 1)} Breakdown at ≤{budget * 100:g}% MACs\n",
            breakdown_rule(info, budget) + "\n",
            markdown_table(headers, rows),
        ]
    )


def _detail_key(detail: str, natural_key: Any) -> tuple:
    match = _BAND.fullmatch(detail)
    if not match:
        return (1, natural_key(detail), -math.inf, -math.inf)
    low = high = float(match["low"])
    if match["high"] is not None:
        high = float(match["high"])
    elif match["op"] in ("<", "<="):
        low, high = -math.inf, low
    elif match["op"] in (">", ">="):
        high = math.inf
    return (0, natural_key(match["prefix"]), low, high)


def _names(table: pd.DataFrame, info: BoardInfo) -> list[str]:
    """The secondary metric names of a `breakdown_table`, in its column order."""
    names = [c[: -len("_std")] for c in table.columns if c.endswith("_std")]
    return [n for n in names if n not in ("cost_fraction", info.metric)]


def _spread(prefix: str, values: pd.Series, how: str) -> dict[str, Any]:
    values = pd.to_numeric(values, errors="coerce").dropna().astype(float)
    center = (values.median() if how == "median" else values.mean()) if len(values) else np.nan
    std = (0.0 if values.nunique() == 1 else values.std(ddof=1)) if len(values) > 1 else np.nan  # no rounding noise
    out: dict[str, Any] = {f"{prefix}_{how}": float(center), f"{prefix}_std": float(std)}
    if prefix != "cost_fraction":
        out[f"{prefix}_seeds"] = len(values)
    return out


def _aggregate(name: str) -> str:
    return metric_info(name, False)[1]


def _header(name: str) -> str:
    unit, aggregate, _ = metric_info(name, False)
    return name + (f" [{unit}]" if unit else "") + (" (median)" if aggregate == "median" else "")


def _value(metrics: dict[str, Any] | None, name: str) -> float:
    value = (metrics or {}).get(name)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return math.nan


def _percent_pm(center: float, spread: float) -> str:
    if math.isnan(spread):
        return percent(center)
    return f"{percent(center)} ± {spread * 100:.2g}%"
