"""Cost at a quality target (`target.md`): per method, the least cost on each axis that keeps the quality.

The target is the task's (`Task.quality_target`, carried by its records; `report --target` overrides
it): e.g. vad and asvspoof2019 "EER within +1 pt of the full dense model", synthetic "MSE within 5 %".
The full dense model's metric is `dense` x1's (the candidate at the full model's MACs), aggregated over
seeds as the metric aggregates. Per method and seed, the least cost on each axis among the seed's
candidates at or better than the threshold; over seeds, its median with the range of the seeds
[min, max] and how many seeds reached the target (a seed that never does has no cost: it is counted,
not imputed). Costs are also shown as a share of the full dense model's value on the same axis.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from tradeoff_bench.bench.report.axes import COST_AXES
from tradeoff_bench.bench.report.format import DAGGER, MISSING, THEORETICAL_NOTE, markdown_table, number, si
from tradeoff_bench.bench.report.frame import axis_cost, method_rows
from tradeoff_bench.bench.report.leaderboard import BoardInfo
from tradeoff_bench.core.records import Record
from tradeoff_bench.core.registry import natural_key
from tradeoff_bench.tasks.targets import DEFAULT_TARGET, QualityTarget

CONTROL = "dense"


def board_target(board: pd.DataFrame, override: QualityTarget | None = None) -> QualityTarget:
    """`override`, else the target the board's records carry, else the default (5 % relative)."""
    if override is not None:
        return override
    for target in board["quality_target"]:
        if target:
            return QualityTarget(**target)
    return DEFAULT_TARGET


def dense_reference(board: pd.DataFrame, aggregate: str) -> float | None:
    """The full dense model's primary metric: `dense` candidates at the full MACs, aggregated over seeds."""
    rows = method_rows(board)
    full = rows[(rows["method"] == CONTROL) & (rows["status"] == "ok") & (rows["macs"] == rows["full_macs"])]
    values = full["metric"].dropna().astype(float)
    if values.empty:
        return None
    return float(values.median() if aggregate == "median" else values.mean())


def target_table(records: list[Record], board: pd.DataFrame, info: BoardInfo, target: QualityTarget) -> pd.DataFrame:
    """One row per (method, axis): `seeds_reached`, `seeds`, `cost_median`, `cost_min`, `cost_max`,
    `fraction_median` (of the full model's value on that axis), `theoretical`; empty without a reference."""
    reference = dense_reference(board, info.aggregate)
    if reference is None:
        return pd.DataFrame()
    threshold = target.threshold(reference, info.higher_is_better)
    ids = set(board["record_id"])
    mine = [r for r in records if r.record_id in ids and r.status == "ok" and r.method != "peers"]
    rows = []
    for method in sorted({r.method for r in mine}, key=natural_key):
        candidates = [r for r in mine if r.method == method]
        seeds = sorted({r.seed for r in candidates})
        for name, axis in COST_AXES.items():
            best: list[float] = []
            fractions: list[float] = []
            theoretical = False
            for seed in seeds:
                reaching = []
                for r in candidates:
                    value = r.metrics.get(r.primary_metric)
                    if r.seed != seed or value is None or not math.isfinite(value):
                        continue
                    if (value >= threshold) if info.higher_is_better else (value <= threshold):
                        cost, kind, full = axis_cost(r, axis)
                        if cost is not None and math.isfinite(cost):
                            reaching.append((cost, kind, full))
                if reaching:
                    cost, kind, full = min(reaching, key=lambda item: item[0])
                    best.append(cost)
                    fractions.append(cost / full if full else math.nan)
                    theoretical |= kind == "theoretical"
            rows.append(
                {
                    "method": method,
                    "axis": name,
                    "seeds": len(seeds),
                    "seeds_reached": len(best),
                    "cost_median": float(np.median(best)) if best else math.nan,
                    "cost_min": min(best) if best else math.nan,
                    "cost_max": max(best) if best else math.nan,
                    "fraction_median": float(np.nanmedian(fractions))
                    if fractions and not all(map(math.isnan, fractions))
                    else math.nan,
                    "theoretical": theoretical,
                    "reference": reference,
                    "threshold": threshold,
                }
            )
    return pd.DataFrame(rows)


def target_markdown(table: pd.DataFrame, info: BoardInfo, target: QualityTarget) -> str:
    """`target.md` of one board: methods as rows, cost axes as columns."""
    name = info.metric or "metric"
    parts = [f"# Cost at a quality target: {info.task} ({info.corpus})\n"]
    if table.empty:
        parts.append(f"No `{CONTROL}` candidate at the full model's MACs: no reference to set the target from.\n")
        return "\n".join(parts)
    reference, threshold = float(table["reference"].iloc[0]), float(table["threshold"].iloc[0])
    parts += [
        f"- Target: {target.describe(name)} ({number(reference, '.4g')} → {name} "
        f"{'≥' if info.higher_is_better else '≤'} {number(threshold, '.4g')}); `report --target` overrides it",
        "- Per method and seed, the least cost on each axis among the candidates that reach it; "
        "the median over the seeds that reach it [min, max], its share of the full dense model's value, "
        "and how many seeds reach it\n",
    ]
    axes = list(COST_AXES)
    headers = ["method", *[COST_AXES[a].label for a in axes]]
    rows = []
    for method in dict.fromkeys(table["method"]):
        cells = [method]
        for axis in axes:
            row = table[(table["method"] == method) & (table["axis"] == axis)].iloc[0]
            cells.append(_cell(row, axis))
        rows.append(cells)
    parts.append(markdown_table(headers, rows))
    if table["theoretical"].any():
        parts.append(THEORETICAL_NOTE + "\n")
    return "\n".join(parts)


def _cell(row: Mapping, axis: str) -> str:
    if not row["seeds_reached"]:
        return f"{MISSING} (0/{row['seeds']})"
    show = si if COST_AXES[axis].si else (lambda v: number(v, ".3g"))
    share = f" {row['fraction_median']:.0%}" if not math.isnan(row["fraction_median"]) else ""
    mark = f" {DAGGER}" if row["theoretical"] else ""
    return (
        f"{show(row['cost_median'])}{mark}{share} [{show(row['cost_min'])}, {show(row['cost_max'])}] "
        f"({row['seeds_reached']}/{row['seeds']})"
    )
