"""Rendering a numeric leaderboard as Markdown with fixed float formatting; the site's tables share its
display table (the paper-ready LaTeX is `bench.report.table_tex`). Formats: hypervolume `.3f`, metrics
4 significant digits (spread 2), MACs with an SI prefix and 3 significant digits, MAC fractions as
percentages (3 significant digits), seconds `.1f`; a missing value is an en dash. The reference-point and breakdown tables
(`bench.report.peers`, `bench.report.breakdown`) use the same helpers and come in through `extra`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from tradeoff_bench.bench.report.leaderboard import BoardInfo, budget_column, verdict_column
from tradeoff_bench.bench.report.verdicts import BETTER, CONTROL, ITEMS_AND_SEEDS, VERDICT_BUDGETS, WORSE

DAGGER = "†"
MISSING = "–"
THEORETICAL_NOTE = (
    f"{DAGGER} MACs (and the bit-operations of those MACs) are theoretical (e.g. only non-zero weights "
    "of unstructured sparsity counted): dense hardware does not realise them; the measured dense `macs` "
    "are in candidates.csv."
)


def display_table(table: pd.DataFrame, info: BoardInfo, budgets: Sequence[float]) -> tuple[list[str], list[list[str]]]:
    """(headers, rows) of strings for a leaderboard from `leaderboard.leaderboard`."""
    name = info.metric or "metric"
    agg = info.aggregate
    headers = ["method", "seeds", "candidates", "hypervolume"]
    axis = info.axis_label
    headers += [f"{name} @ ≤{budget * 100:g}% {axis}" for budget in budgets]
    verdicts = [b for b in VERDICT_BUDGETS if f"{verdict_column(b)}_verdict" in table]
    headers += [f"vs {CONTROL} @ ≤{budget * 100:g}%" for budget in verdicts]
    headers += [f"best {name}", f"at {axis}", "cell s / seed", "epochs", "unconverged", "failed cells"]
    marked = has_item_intervals(table)  # a board without any per-item scores says so once, below the table
    rows = []
    for _, row in table.iterrows():
        cells = [
            row["method"] + (f" {DAGGER}" if row["cost_kind"] in ("theoretical", "mixed") else ""),
            str(row["seeds"]),
            str(row["candidates"]),
            plus_minus(row["hv_mean"], row["hv_std"], ".3f", ".3f"),
        ]
        for budget in budgets:
            prefix = budget_column(budget)
            cell = plus_minus(row[f"{prefix}_{agg}"], row[f"{prefix}_std"], ".4g", ".2g")
            if 0 < row[f"{prefix}_seeds"] < row["seeds"]:
                cell += f" ({row[f'{prefix}_seeds']}/{row['seeds']} seeds)"
            cells.append(
                cell
                + interval(row.get(f"{prefix}_ci_low"), row.get(f"{prefix}_ci_high"), ".4g")
                + coverage(row.get(f"{prefix}_ci_over"), marked)
            )
        cells += [verdict_cell(row, budget, marked) for budget in verdicts]
        macs = cost_text(row["best_cost"], info.axis) + (f" {DAGGER}" if row["best_cost_kind"] == "theoretical" else "")
        cells += [
            number(row["best_metric"], ".4g"),
            macs,
            number(row["train_seconds_mean"], ".1f"),
            number(row["epochs"], ".4g"),
            str(row.get("unconverged", 0)),
            str(row["failed_cells"]),
        ]
        rows.append(cells)
    return headers, rows


def interval(low: float | None, high: float | None, fmt: str) -> str:
    """` [low, high]`, or nothing without both ends."""
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return ""
    return f" [{format(float(low), fmt)}, {format(float(high), fmt)}]"


def verdict_cell(row: pd.Series, budget: float, marked: bool = True) -> str:
    """`better −1.2 [−2.0, −0.4] (3 pairs, P 0.89)`: the verdict, the paired difference and its 95 % CI,
    and the probability of improvement."""
    prefix = verdict_column(budget)
    if not row[f"{prefix}_verdict"]:
        return MISSING
    pairs = int(row[f"{prefix}_pairs"])
    p_better = row.get(f"{prefix}_p_better")
    probability = f", P {float(p_better):.2f}" if p_better is not None and pd.notna(p_better) else ""
    return (
        f"{row[f'{prefix}_verdict']} {format(float(row[f'{prefix}_diff']), '+.3g')}"
        f"{interval(row[f'{prefix}_ci_low'], row[f'{prefix}_ci_high'], '+.3g')}"
        f" ({pairs} pair{'s' * (pairs != 1)}{probability})"
        f"{coverage(row[f'{prefix}_over'], marked)}"
    )


def coverage(over: str | None, marked: bool = True) -> str:
    """A mark on an interval that does not resample the test items (no per-item scores)."""
    if not marked or not isinstance(over, str) or over in ("", ITEMS_AND_SEEDS):
        return ""
    return f" ({over.split(';')[0]} only)"


def has_item_intervals(table: pd.DataFrame) -> bool:
    """Whether any interval of the leaderboard resamples test items."""
    return any((table[c] == ITEMS_AND_SEEDS).any() for c in table.columns if c.endswith("_over"))


def cost_text(value: float | None, axis: str) -> str:
    """A cost on `axis`: an SI prefix for counts and bytes, 3 significant digits for milliseconds."""
    from tradeoff_bench.bench.report.axes import cost_axis

    return si(value) if cost_axis(axis).si else number(value, ".3g")


def resolved_line(table: pd.DataFrame, axis: str = "MACs") -> str | None:
    """How many method-vs-dense comparisons each verdict budget resolves, e.g. `25%: 2 of 6`."""
    counts = []
    for budget in VERDICT_BUDGETS:
        verdicts = table.get(f"{verdict_column(budget)}_verdict", pd.Series(dtype=str))
        compared = verdicts[verdicts != ""]
        if len(compared):
            resolved = int(compared.isin([BETTER, WORSE]).sum())
            counts.append(f"≤{budget * 100:g}% {axis}: {resolved} of {len(compared)}")
    if not counts:
        return None
    line = f"Comparisons with `{CONTROL}` resolved: {'; '.join(counts)}"
    if not has_item_intervals(table):
        line += (
            ". No candidate of this table kept per-item scores: its intervals cover the seeds only, "
            "and without the test items no comparison is resolved"
        )
    return line


def header_lines(info: BoardInfo) -> list[str]:
    """The facts a reader needs to read the table: what, on what, measured how."""
    name = info.metric or "metric"
    unit = f" [{info.unit}]" if info.unit else ""
    ref = number(info.reference_metric, ".4g") if info.reference_metric is not None else "unknown"
    ideal = number(info.ideal_metric, ".4g") if info.ideal_metric is not None else "unknown"
    full_value = info.full_cost if info.full_cost is not None else (info.full_macs if info.axis == "macs" else None)
    full = cost_text(full_value, info.axis) if full_value is not None else "unknown"
    cost_unit = info.cost_unit or "example"
    axis = info.axis_label
    how = {
        "macs": "fvcore",
        "bops": "MACs × weight bits × activation bits",
        "weight_bytes": "int8 1 byte + qparams, float32 4",
        "peak_activation_bytes": "allocator peak of one forward, torch.profiler",
        "latency_ms": "eager PyTorch, 1 thread, median; 95 % CI within ±5 %",
        "onnx_latency_ms": "ONNX Runtime, 1 thread, median",
    }.get(info.axis, "")
    return [
        f"Task: `{info.task}`; corpus: `{info.corpus}`",
        f"Metric: `{name}`{unit}, {info.direction}; seeds aggregate as {info.aggregate} ± sample std",
        f"Cost: {axis} per {cost_unit} ({how}); full dense model: {full} {axis}",
        f"Hypervolume: area dominated in ({axis} / full-model {axis}, normalised `{name}`) up to the reference "
        f"point (1, 1) = (the full dense model's {axis}, the trivial predictor's {name} = {ref}); "
        f"{name} = {ideal} maps to 0, so 1 is a zero-cost perfect model. Per seed, then mean ± std",
        f"Seeds: {info.seeds}; methods: {info.methods}; candidates: {info.candidates}"
        + (f"; reference points: {info.peers}" if info.peers else ""),
        f"Metric at a budget: the best candidate of a seed with {axis} ≤ that fraction of the full model's; "
        "[brackets]: 95 % bootstrap CI over seeds and test items (whole items resampled, seed 0), "
        "marked `(seeds only)` where candidates lack per-item scores",
        f"vs {CONTROL}: at matched cost, the mean over seeds of (method − {CONTROL}) between each seed's best "
        f"candidates under the ceiling, paired by seed and test item, with its 95 % CI; better / worse when the "
        "CI excludes 0, else not resolved; P: the probability of improvement, the share of (method seed, "
        f"{CONTROL} seed) pairs where the method is better (ties count one half)",
        *([f"Data: {'; '.join(info.corpus_notes)}"] if info.corpus_notes else []),
        *([mixed_code_note(info)] if info.mixes_code else []),
    ]


def mixed_code_note(info: BoardInfo) -> str:
    """The warning a board carries when its records come from more than one version of the code."""
    versions = "; ".join(
        f"{version}: {len(ids)} cell{'s' if len(ids) != 1 else ''} ({', '.join(ids)})"
        for version, ids in info.code_versions
    )
    return (
        f"**Warning: mixed code.** These records come from {len(info.code_versions)} versions of the suite's "
        f"code: {versions}. Run again with `--rerun-stale` to redo cells made by other code"
    )


def leaderboard_markdown(
    table: pd.DataFrame,
    info: BoardInfo,
    failed: pd.DataFrame,
    budgets: Sequence[float],
    image: str | None = "pareto.png",
    level: int = 1,
    extra: Sequence[str] = (),
) -> str:
    """`leaderboard.md`: header facts, the table, notes, `extra` sections, failed cells, the plot.

    `level` is the heading level of the title (2 when embedded in the index README); `image` the
    relative path of the plot, or None for none; `extra` Markdown blocks (reference points,
    breakdown) rendered at heading level `level + 1`.
    """
    headers, rows = display_table(table, info, budgets)
    title = "#" * level
    parts = [f"{title} {info.task} ({info.corpus})\n", *[f"- {line}" for line in header_lines(info)], ""]
    parts.append(markdown_table(headers, rows) if rows else "No methods.\n")
    resolved = resolved_line(table, info.axis_label)
    if resolved:
        parts.append(resolved + "\n")
    if (table.get("cost_kind", pd.Series(dtype=str)).isin(["theoretical", "mixed"])).any():
        parts.append(THEORETICAL_NOTE + "\n")
    parts += list(extra)
    if len(failed):
        parts.append(f"{title}# Failed cells\n")
        for _, cell in failed.iterrows():
            error = " ".join(str(cell["error"] or "no error recorded").split())
            error = error if len(error) <= 300 else error[:297] + "..."
            parts.append(f"- `{cell['cell_id']}` ({cell['method']}, seed {cell['seed']}): {error}")
        parts.append("")
    if image:
        parts.append(f"![Pareto fronts of {info.task}]({image})\n")
    return "\n".join(parts)


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    esc = [[cell.replace("|", "\\|") for cell in line] for line in [headers, *rows]]
    align = ["---"] + ["---:"] * (len(headers) - 1)
    lines = [esc[0], align, *esc[1:]]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines) + "\n"


def number(value: float | None, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return format(float(value), fmt)


def si(value: float | None) -> str:
    """1234567 -> `1.23M` (3 significant digits, SI prefix)."""
    if value is None or math.isnan(value):
        return MISSING
    value = float(f"{value:.3g}")  # round first, so 999_600 becomes 1M, not 1e+03k
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{prefix}"
    return f"{value:.3g}"


def percent(fraction: float | None) -> str:
    """0.497 -> `49.7%` (3 significant digits)."""
    if fraction is None or math.isnan(fraction):
        return MISSING
    return f"{fraction * 100:.3g}%"


def plus_minus(center: float, spread: float, fmt: str, spread_fmt: str) -> str:
    """`center ± spread`; the center alone without a spread (one seed), an en dash without a center."""
    if math.isnan(center):
        return MISSING
    if math.isnan(spread):
        return format(center, fmt)
    return f"{format(center, fmt)} ± {format(spread, spread_fmt)}"
