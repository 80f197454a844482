"""The leaderboard of one (task, corpus): one numeric row per method, best hypervolume first.

Reference systems (`frame.PEERS` records) are not a method and get no row: see `bench.report.peers`.

Per method, over its seeds (a seed pools the candidates of all its cells):

- `seeds`, `candidates` (successful records with a metric), `failed_cells`;
- `hv_mean`, `hv_std`: hypervolume (see `bench.report.pareto`) per seed, mean and sample std;
- `at_<b>_<agg>`, `at_<b>_std`, `at_<b>_seeds` per budget b: the best metric of a seed among its
  candidates with cost_fraction <= b, aggregated over the seeds that have one (`agg` is the metric
  spec's aggregate, "mean" or "median"; `_seeds` says how many seeds reached the budget);
- `best_metric`, `best_cost`, `best_cost_fraction`, `best_cost_kind`: the best candidate over all
  seeds (ties: the cheaper), its cost and whether that cost is measured or theoretical;
- `cost_kind`: "measured", "theoretical" or "mixed" over the method's candidates;
- `train_seconds_mean`: per seed, the wall time of all its cells' method runs (`cell_seconds`,
  counted once per cell however many candidates it yielded), mean over seeds: what the method's
  whole front cost to produce;
- `epochs`: per seed the largest `train_epochs` of a candidate, mean over seeds: the method's
  training budget per model;
- `unconverged`: how many of its candidates say they had not converged (facts `converged` False);
- `at_<b>_ci_low`, `at_<b>_ci_high`, `at_<b>_ci_over`: the 95 % interval of `at_<b>_<agg>` over seeds
  and test items, and which of the two it covers (`bench.report.verdicts.budget_intervals`);
- `vs_dense_<b>_diff`, `_ci_low`, `_ci_high`, `_pairs`, `_over`, `_verdict`, `_p_better` per verdict
  budget: the paired difference to `dense` at matched cost and the probability of improvement
  (`bench.report.verdicts.dense_verdicts`); empty for `dense`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tradeoff_bench.bench.report.bootstrap import Replicates
from tradeoff_bench.bench.report.frame import method_rows, ok_rows, peer_rows
from tradeoff_bench.bench.report.pareto import DEFAULT_BUDGETS, seed_budget_metrics, seed_hypervolumes
from tradeoff_bench.bench.report.verdicts import VERDICT_BUDGETS, budget_intervals, dense_verdicts
from tradeoff_bench.core.registry import natural_key


@dataclass(frozen=True)
class BoardInfo:
    """What a leaderboard's header states; `None` where records disagree or say nothing."""

    task: str
    corpus: str
    metric: str
    unit: str
    higher_is_better: bool
    aggregate: str
    cost_unit: str
    full_macs: float | None
    reference_metric: float | None
    ideal_metric: float | None
    seeds: int
    methods: int
    candidates: int
    peers: int = 0
    """Reference systems of the board (deduplicated by label)."""
    corpus_notes: tuple[str, ...] = ()
    """Every note on the data that the board's successful records carry."""
    axis: str = "macs"
    """The cost axis the board ranks by (`bench.report.axes`)."""
    full_cost: float | None = None
    """The full dense model's value on that axis (the budgets' denominator)."""
    code_versions: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(code version, its cell ids) for every version of the suite's code behind the board's records;
    more than one means the table mixes results of different code."""

    @property
    def mixes_code(self) -> bool:
        return len(self.code_versions) > 1

    @property
    def axis_label(self) -> str:
        from tradeoff_bench.bench.report.axes import cost_axis

        return cost_axis(self.axis).label

    @property
    def direction(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"


def board_info(board: pd.DataFrame) -> BoardInfo:
    """Header facts of one (task, corpus); a board mixing primary metrics is an error."""
    ok = board[board["status"] == "ok"]
    source = ok if len(ok) else board
    metrics = sorted(m for m in source["primary_metric"].dropna().unique() if m)
    if len(metrics) > 1:
        raise ValueError(
            f"task {board['task'].iloc[0]!r} mixes primary metrics {metrics}: "
            "records of one task and corpus must share their primary metric"
        )
    rows = source[source["primary_metric"] == metrics[0]] if metrics else source
    methods = method_rows(board)
    return BoardInfo(
        task=str(board["task"].iloc[0]),
        corpus=str(board["corpus"].iloc[0]),
        metric=metrics[0] if metrics else "",
        unit=_common(rows["metric_unit"]) or "",
        higher_is_better=bool(_common(rows["higher_is_better"])),
        aggregate=_common(rows["metric_aggregate"]) or "mean",
        cost_unit=_common(rows["cost_unit"]) or "",
        full_macs=_number(_common(rows["full_macs"])),
        reference_metric=_number(_common(rows["reference_metric"])),
        ideal_metric=_number(_common(rows["ideal_metric"])),
        seeds=int(ok_rows(methods)["seed"].nunique()),
        methods=int(methods["method"].nunique()),
        candidates=len(ok_rows(methods)),
        peers=len(peer_rows(board)),
        corpus_notes=tuple(sorted({note for notes in ok["corpus_notes"] for note in (notes or [])})),
        code_versions=_code_versions(board),
        axis=str(_common(board["cost_axis"]) or "macs") if "cost_axis" in board else "macs",
        full_cost=_number(_common(rows["full_cost"])) if "full_cost" in rows else None,
    )


def _code_versions(board: pd.DataFrame) -> tuple[tuple[str, tuple[str, ...]], ...]:
    from tradeoff_bench.bench.provenance import code_versions

    cells = code_versions((prov or {}, str(cell)) for cell, prov in zip(board["cell_id"], board["provenance"]))
    return tuple((version, tuple(sorted(ids))) for version, ids in sorted(cells.items()))


def leaderboard(
    board: pd.DataFrame,
    budgets: Sequence[float] = DEFAULT_BUDGETS,
    replicates: Replicates | None = None,
    verdict_budgets: Sequence[float] = VERDICT_BUDGETS,
) -> pd.DataFrame:
    """Numeric leaderboard of one (task, corpus) board of `records_frame` rows (see module doc).

    `replicates` are the candidates' bootstrap replicates over test items (`bootstrap.board_replicates`);
    without them the intervals cover the seeds alone."""

    info = board_info(board)
    board = method_rows(board)
    ok = ok_rows(board)
    hv = seed_hypervolumes(ok)
    at_budget = seed_budget_metrics(ok, budgets)
    replicates = replicates if replicates is not None else Replicates()
    intervals = budget_intervals(ok, replicates, budgets, info.aggregate).set_index(["method", "budget"])
    verdicts = dense_verdicts(ok, replicates, info.higher_is_better, verdict_budgets).set_index(["method", "budget"])
    per_seed = ok.groupby(["method", "seed"], sort=True).agg(epochs=("train_epochs", "max"))
    per_seed["seconds"] = (
        ok.drop_duplicates("cell_id").groupby(["method", "seed"], sort=True)["cell_seconds"].sum(min_count=1)
    )
    rows = []
    for method in sorted(board["method"].unique(), key=natural_key):
        mine = ok[ok["method"] == method]
        failed = board[(board["method"] == method) & (board["status"] != "ok")]
        row: dict[str, Any] = {
            "method": method,
            "seeds": int(mine["seed"].nunique()),
            "candidates": len(mine),
            "failed_cells": int(failed["cell_id"].nunique()),
            "cost_kind": _kind(mine["cost_kind"]),
        }
        row.update(_spread("hv", hv.loc[hv["method"] == method, "hypervolume"], "mean", counts=False))
        for budget in budgets:
            values = at_budget.loc[(at_budget["method"] == method) & (at_budget["budget"] == budget), "metric"]
            row.update(_spread(budget_column(budget), values, info.aggregate))
            row.update(
                _prefixed(budget_column(budget), intervals, (method, float(budget)), ["ci_low", "ci_high", "ci_over"])
            )
        row.update(_best(mine, info.higher_is_better))
        seeds = per_seed.loc[method] if method in per_seed.index.get_level_values(0) else per_seed.iloc[:0]
        row["train_seconds_mean"] = _mean(seeds["seconds"])
        row["epochs"] = _mean(seeds["epochs"])
        row["unconverged"] = int(sum((facts or {}).get("converged") is False for facts in mine["facts"]))
        for budget in verdict_budgets:
            row.update(
                _prefixed(
                    verdict_column(budget),
                    verdicts,
                    (method, float(budget)),
                    ["diff", "ci_low", "ci_high", "pairs", "over", "verdict", "p_better"],
                )
            )
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    return table.sort_values("hv_mean", ascending=False, kind="mergesort", na_position="last").reset_index(drop=True)


def failed_cells(board: pd.DataFrame) -> pd.DataFrame:
    """One row per failed cell: cell_id, method, seed, label, error (sorted)."""
    failed = board[board["status"] != "ok"]
    columns = ["cell_id", "method", "seed", "label", "error"]
    failed = failed.sort_values(["method", "seed", "cell_id", "label"], kind="mergesort")
    return failed.drop_duplicates("cell_id")[columns].reset_index(drop=True)


def budget_column(budget: float) -> str:
    """Column prefix of a budget: 0.25 -> `at_0.25`."""
    return f"at_{budget:g}"


def verdict_column(budget: float) -> str:
    """Column prefix of a verdict budget: 0.5 -> `vs_dense_0.5`."""
    return f"vs_dense_{budget:g}"


def _prefixed(prefix: str, table: pd.DataFrame, key: tuple[str, float], names: list[str]) -> dict[str, Any]:
    """`{prefix}_{name}` for the columns `names` of `table`'s row `key` (NaN, or "" for text, where none)."""
    found = table.loc[key] if key in table.index else None
    return {
        f"{prefix}_{name}": found[name] if found is not None else ("" if name in _TEXT else np.nan) for name in names
    }


_TEXT = ("ci_over", "over", "verdict")


def _spread(prefix: str, values: pd.Series, how: str, counts: bool = True) -> dict[str, float]:
    values = values.dropna().astype(float)
    center = (values.median() if how == "median" else values.mean()) if len(values) else np.nan
    std = values.std(ddof=1) if len(values) > 1 else np.nan
    out = {f"{prefix}_{how}": float(center), f"{prefix}_std": float(std)}
    if counts:
        out[f"{prefix}_seeds"] = len(values)
    return out


def _best(rows: pd.DataFrame, higher_is_better: bool) -> dict[str, Any]:
    if rows.empty:
        return {"best_metric": np.nan, "best_cost": np.nan, "best_cost_fraction": np.nan, "best_cost_kind": ""}
    ranked = rows.assign(_score=-rows["metric"] if higher_is_better else rows["metric"])
    best = ranked.sort_values(["_score", "cost", "seed", "label"], kind="mergesort").iloc[0]
    return {
        "best_metric": float(best["metric"]),
        "best_cost": float(best["cost"]),
        "best_cost_fraction": float(best["cost_fraction"]),
        "best_cost_kind": best["cost_kind"],
    }


def _kind(kinds: pd.Series) -> str:
    found = set(kinds.dropna())
    return "mixed" if len(found) > 1 else (found.pop() if found else "")


def _mean(values: pd.Series) -> float:
    values = values.dropna()
    return float(values.mean()) if len(values) else float("nan")


def _common(values: pd.Series) -> Any:
    unique = list(pd.unique(values.dropna()))
    return unique[0] if len(unique) == 1 else None


def _number(value: Any) -> float | None:
    return None if value is None else float(value)
