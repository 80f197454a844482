"""Static Pareto figures: PNG and SVG for the screen, PDF at print widths; one per (task, corpus) and a
faceted overview.

Each method's line is a step line through candidates that exist: its candidates are grouped by
label (one configuration, a candidate per seed), each label is the point (mean cost over its seeds,
the board's aggregate of their metric, mean or median), and the line joins the labels' Pareto front
(`pareto.label_front`), from its cheapest to its costliest front point and no further. A faint
vertical bar at each front point spans its seeds' metrics (least to greatest), the spread the
aggregate hides; there is no band between the points, since no candidate lies there. Every seed's
candidates are small faint markers behind the line, in the method's colour and marker
(`bench.report.style`). A method whose MACs are theoretical (unstructured sparsity) has a dashed
front and says so in the legend. The metric axis spans the fronts (`bench.report.focus`); a
candidate or front point beyond it is a hollow triangle on the axis edge pointing towards its
value. A dotted vertical line marks the full dense model's MACs (the hypervolume's x reference).
Reference systems (`bench.report.peers`) are black stars named by their label, hollow when their
figures are published rather than measured here; those without a MAC count (or primary metric
value) are left out (the reference-point table says so). The log cost axis is labelled at 1, 2 and 5
times each power of ten with SI prefixes (`log_ticks`: 1k, 2k, 5k, 10k, ...; fewer where that
would crowd it).

The print figures (`pareto_pdf_bytes`) are `PRINT_SIZES` wide (3.3 in: one column of a two-column
paper; 7 in: both), with 7-8 pt text, smaller markers, the legend below the axes in as many
columns as fit, and TrueType fonts embedded (`pdf.fonttype` 42).

seaborn and matplotlib are imported inside the functions so that importing `bench.report` is
cheap; figures are drawn with the Agg backend and rendered to bytes that do not change between
runs (fixed SVG hash salt, no date or software metadata in PNG, SVG or PDF).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from tradeoff_bench.bench.report.focus import focus_range
from tradeoff_bench.bench.report.frame import method_rows, ok_rows, peer_rows
from tradeoff_bench.bench.report.leaderboard import BoardInfo
from tradeoff_bench.bench.report.pareto import label_front
from tradeoff_bench.bench.report.style import PEER_COLOUR, MethodStyle, method_styles
from tradeoff_bench.core.registry import natural_key

SVG_SALT = "tradeoff-bench"
PEER_MARKER = "*"
SPREAD_ALPHA = 0.3
SEED_ALPHA = 0.35
OUTLIER_LABEL = "beyond the axis (drawn at its edge)"
PANEL_INCHES = (5.2, 3.9)
OVERVIEW_COLUMNS = 3
FRONT_GID = "front:"
"""A method's front line carries gid `front:<method>` (for tests and for anyone post-editing the SVG)."""
TICK_INCHES = 0.5
"""Room per cost-axis label: an axis `w` inches wide gets at most w / TICK_INCHES labels."""
PRINT_SIZES = {"column": (3.3, 2.5), "wide": (7.0, 3.1)}
"""Print figures: (width, height before the legend's rows) in inches; `pareto.<name>.pdf` in a report."""
PRINT_RC = {
    "font.size": 8.0,
    "axes.titlesize": 8.0,
    "axes.labelsize": 8.0,
    "xtick.labelsize": 7.0,
    "ytick.labelsize": 7.0,
    "legend.fontsize": 7.0,
    "pdf.fonttype": 42,
}
PRINT_SCALE = 0.7
"""Markers and lines of the print figures relative to the screen ones (lengths)."""
LEGEND_PAD_INCHES = 0.05
MIN_TEXT_POINTS = 7.0
"""No label smaller than this (the reference points' names in print)."""

Panel = tuple[pd.DataFrame, BoardInfo]


def pareto_figure_bytes(
    board: pd.DataFrame, info: BoardInfo, methods: Sequence[str] | None = None, dpi: int = 150
) -> tuple[bytes, bytes]:
    """(PNG, SVG) bytes of the Pareto plot of one board.

    `methods` fixes each method's look (pass every method of the report so a method keeps its
    colour and marker across tasks); by default the board's methods in natural order.
    """
    import matplotlib.pyplot as plt

    styles = method_styles(methods if methods is not None else _methods([board]))
    with _context():
        fig, ax = plt.subplots(figsize=(7.8, 4.8))
        handles = draw_board(ax, board, info, styles)
        if handles:
            ax.legend(
                handles.values(),
                handles.keys(),
                loc="upper left",
                bbox_to_anchor=(1.02, 1.0),
                frameon=False,
                fontsize="small",
            )
        return _render(fig, dpi)


def pareto_pdf_bytes(
    board: pd.DataFrame, info: BoardInfo, methods: Sequence[str] | None = None, size: str = "column"
) -> bytes:
    """PDF bytes of the Pareto plot of one board for print, `PRINT_SIZES[size]` wide, the legend below.

    `methods` as for `pareto_figure_bytes`. The page is exactly that wide; it is as much taller than
    `PRINT_SIZES`' height as the legend below the axes needs. A long legend entry is broken before
    its parenthesis when that lets the legend have more columns.
    """
    import matplotlib.pyplot as plt

    styles = method_styles(methods if methods is not None else _methods([board]))
    width, height = PRINT_SIZES[size]
    with _context(PRINT_RC):
        fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
        handles = draw_board(ax, board, info, styles, scale=PRINT_SCALE)
        if handles:
            labels = list(handles)
            columns = _legend_columns(fig, labels, width)
            wrapped = [label.replace(" (", "\n(", 1) for label in labels]
            if _legend_columns(fig, wrapped, width) > columns:
                labels, columns = wrapped, _legend_columns(fig, wrapped, width)
            legend = fig.legend(handles.values(), labels, loc="outside lower center", ncol=columns, frameon=False)
            below = legend.get_window_extent().height / fig.dpi
            fig.set_figheight(height + below + LEGEND_PAD_INCHES)
        return _render_pdf(fig)


def overview_figure_bytes(
    panels: Sequence[Panel], methods: Sequence[str] | None = None, dpi: int = 150
) -> tuple[bytes, bytes]:
    """(PNG, SVG) bytes of one figure with a panel per board and one legend below them."""
    import matplotlib.pyplot as plt

    styles = method_styles(methods if methods is not None else _methods([b for b, _ in panels]))
    columns = max(1, min(OVERVIEW_COLUMNS, len(panels)))
    lines = max(1, math.ceil(len(panels) / columns))
    with _context():
        fig, axes = plt.subplots(
            lines, columns, squeeze=False, figsize=(PANEL_INCHES[0] * columns, PANEL_INCHES[1] * lines + 0.9)
        )
        handles: dict[str, Any] = {}
        for ax, (board, info) in zip(axes.flat, panels):
            handles.update(draw_board(ax, board, info, styles))
        for ax in list(axes.flat)[len(panels) :]:
            ax.set_visible(False)
        fig.tight_layout(rect=(0, 0.9 / (PANEL_INCHES[1] * lines + 0.9), 1, 1))
        if handles:
            fig.legend(
                handles.values(),
                handles.keys(),
                loc="lower center",
                ncol=min(4, len(handles)),
                frameon=False,
                fontsize="small",
            )
        return _render(fig, dpi)


def draw_board(
    ax: Any, board: pd.DataFrame, info: BoardInfo, styles: dict[str, MethodStyle], scale: float = 1.0
) -> dict[str, Any]:
    """Draw one board on `ax`; returns the legend entries it used ({label: handle}).

    `scale` multiplies the markers' and lines' sizes (lengths; the print figures draw smaller)."""
    rows = ok_rows(method_rows(board))
    peers = ok_rows(peer_rows(board))  # those with a MAC count and a metric: the plotted ones
    unit = f" [{info.unit}]" if info.unit else ""
    ax.set_xlabel(f"{info.axis_label} per {info.cost_unit or 'example'}")
    ax.set_ylabel(f"{info.metric or 'metric'}{unit} ({info.direction})")
    ax.set_title(f"{info.task} — {info.corpus}", fontsize="medium", pad=10 * scale)
    if rows.empty and peers.empty:
        ax.text(0.5, 0.5, "no successful candidates", ha="center", va="center", transform=ax.transAxes)
        return {}
    present = [m for m in styles if m in set(rows["method"])]
    fronts = {m: label_front(rows[rows["method"] == m], info.aggregate) for m in present}
    limits = focus_range(
        pd.concat([*(f["metric"] for f in fronts.values()), peers["metric"]]), info.ideal_metric, info.higher_is_better
    )
    handles: dict[str, Any] = {}
    for method in present:
        mine = rows[rows["method"] == method]
        theoretical = bool((mine["cost_kind"] == "theoretical").any())
        label = f"{method} (theoretical {info.axis_label})" if theoretical else method
        handles[label] = _draw_method(ax, method, mine, fronts[method], styles[method], limits, theoretical, scale)
    if len(peers):
        handles.update(_draw_peers(ax, peers, limits, scale))
    if any(
        _outside(v, limits).any() for v in [rows["metric"], peers["metric"], *(f["metric"] for f in fronts.values())]
    ):
        from matplotlib.lines import Line2D

        handles[OUTLIER_LABEL] = Line2D(
            [], [], linestyle="", marker="^", markersize=6 * scale, markerfacecolor="none", color="0.35"
        )
    if _full(info):
        handles["full dense model"] = ax.axvline(_full(info), color="0.4", linestyle=":", linewidth=scale)
    _log_macs_axis(ax)
    if limits:
        ax.set_ylim(*limits)
    return handles


def _draw_method(
    ax: Any,
    method: str,
    rows: pd.DataFrame,
    front: pd.DataFrame,
    style: MethodStyle,
    limits: tuple[float, float] | None,
    theoretical: bool,
    scale: float,
) -> Any:
    """Every seed's candidates, then the step line through the method's label front (`label_front`)
    up to its costliest point, each front point with a faint bar over its seeds' metrics."""
    from matplotlib.lines import Line2D

    _scatter_clipped(
        ax,
        rows["cost"],
        rows["metric"],
        limits,
        style.colour,
        marker=style.marker,
        s=14 * scale**2,
        alpha=SEED_ALPHA,
        linewidths=0,
        zorder=2,
    )
    if len(front):
        spread = front[front["high"] > front["low"]]
        ax.vlines(
            spread["cost"],
            spread["low"],
            spread["high"],
            color=style.colour,
            alpha=SPREAD_ALPHA,
            linewidth=3.0 * scale,
            zorder=1,
        )
        ax.plot(
            front["cost"],
            front["metric"],
            drawstyle="steps-post",
            color=style.colour,
            linewidth=1.8 * scale,
            linestyle="--" if theoretical else "-",
            zorder=3,
            gid=f"{FRONT_GID}{method}",
        )
        _scatter_clipped(
            ax,
            front["cost"],
            front["metric"],
            limits,
            style.colour,
            marker=style.marker,
            s=42 * scale**2,
            edgecolors="white",
            linewidths=0.7 * scale,
            zorder=4,
        )
    return Line2D(
        [],
        [],
        color=style.colour,
        marker=style.marker,
        markersize=6 * scale,
        linewidth=1.8 * scale,
        linestyle="--" if theoretical else "-",
        markeredgecolor="white",
    )


def _draw_peers(ax: Any, peers: pd.DataFrame, limits: tuple[float, float] | None, scale: float) -> dict[str, Any]:
    """Black stars (hollow: published) annotated with their labels, in label order."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.lines import Line2D

    origin = peers["facts"].map(lambda facts: (facts or {}).get("origin") or "measured")
    handles = {}
    for published, label in ((False, "reference (measured here)"), (True, "reference (published)")):
        mine = peers[(origin == "published") == published]
        if len(mine):
            face = "none" if published else PEER_COLOUR
            _scatter_clipped(
                ax,
                mine["cost"],
                mine["metric"],
                limits,
                PEER_COLOUR,
                marker=PEER_MARKER,
                s=160 * scale**2,
                linewidths=1.1 * scale,
                facecolors=face,
                edgecolors=PEER_COLOUR,
                zorder=5,
            )
            handles[label] = Line2D(
                [],
                [],
                linestyle="",
                marker=PEER_MARKER,
                markersize=11 * scale,
                markerfacecolor=face,
                color=PEER_COLOUR,
            )
    for _, peer in peers.iterrows():
        y = float(np.clip(peer["metric"], *limits)) if limits else float(peer["metric"])
        ax.annotate(
            str(peer["label"]),
            (float(peer["cost"]), y),
            xytext=(6 * scale, 4 * scale),
            textcoords="offset points",
            fontsize=max(MIN_TEXT_POINTS, FontProperties(size="small").get_size_in_points()),
            color=PEER_COLOUR,
        )
    return handles


def _scatter_clipped(
    ax: Any, x: pd.Series, y: pd.Series, limits: tuple[float, float] | None, colour: str, **kwargs: Any
) -> None:
    """Points inside `limits` as asked; those beyond as hollow triangles on the edge, pointing out."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    beyond = _outside(y, limits)
    if kwargs.get("facecolors") is None:
        kwargs["color"] = colour
    ax.scatter(x[~beyond], y[~beyond], **kwargs)
    if limits is None or not beyond.any():
        return
    for mask, edge, marker in ((y > limits[1], limits[1], "^"), (y < limits[0], limits[0], "v")):
        if mask.any():
            ax.scatter(
                x[mask],
                np.full(mask.sum(), edge),
                marker=marker,
                s=40,
                facecolors="none",
                edgecolors=colour,
                linewidths=1.1,
                clip_on=False,
                zorder=6,
            )


def _log_macs_axis(ax: Any) -> None:
    """Log scale labelled by `log_ticks` over the axis's range, as many labels as its width holds
    (no crowded minor labels); matplotlib's 1-2-5 locator where the range is not positive."""
    from matplotlib.ticker import EngFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    low, high = ax.get_xlim()
    inches = ax.get_position().width * ax.figure.get_figwidth()
    values, labels = log_ticks(low, high, max(3, int(inches / TICK_INCHES)))
    if values:
        ax.set_xticks(values, labels)
        ax.set_xlim(low, high)
    else:
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    ax.xaxis.set_minor_formatter(NullFormatter())


def log_ticks(low: float, high: float, most: int = 12) -> tuple[list[float], list[str]]:
    """(values, labels) of readable ticks for a log axis from `low` to `high`: 1, 2 and 5 times each
    power of ten, or where that gives more than `most`, only powers of ten (every one, every second,
    ...); where the range holds fewer than two of those, steps of 1, 2 or 5 times a power of ten.
    Labels have SI prefixes: 500, 1k, 2k, 5k, 10k, ..., 1M. Nothing for a range that is not positive.
    """
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low <= high):
        return [], []
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    values: list[float] = []
    for subs, stride in [((1, 2, 5), 1), *(((1,), n) for n in range(1, last - first + 2))]:
        within = [
            v
            for e in range(first, last + 1)
            if e % stride == 0
            for v in (float(f"{m * 10.0**e:.12g}") for m in subs)
            if low <= v <= high
        ]
        if len(within) < 2:
            break
        values = within
        if len(within) <= most:
            break
    if not values:  # under a 1-2-5 step wide: even steps
        span = high - low
        if span <= 0:
            values = [low]
        else:
            power = math.floor(math.log10(span))
            step = next(
                m * 10.0**e
                for e in (power - 1, power)
                for m in (1, 2, 5)
                if span / (m * 10.0**e) <= min(max(most, 2), 5)
            )
            values = [float(f"{i * step:.12g}") for i in range(math.ceil(low / step), math.floor(high / step) + 1)]
    return values, [_si_label(v) for v in values]


def _si_label(value: float) -> str:
    """1000 -> 1k, 2.5e6 -> 2.5M (exact up to 6 significant digits, so close ticks stay apart)."""
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.6g}{prefix}"
    return f"{value:.6g}"


def _outside(values: Any, limits: tuple[float, float] | None) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if limits is None:
        return np.zeros(values.shape, dtype=bool)
    return (values < limits[0]) | (values > limits[1])


def _methods(boards: Sequence[pd.DataFrame]) -> list[str]:

    return sorted({m for board in boards for m in method_rows(board)["method"].unique()}, key=natural_key)


def _context(rc: Any = None) -> Any:
    import contextlib

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    stack = contextlib.ExitStack()
    stack.enter_context(plt.rc_context({"svg.hashsalt": SVG_SALT, "svg.fonttype": "path"}))
    stack.enter_context(sns.axes_style("whitegrid"))
    if rc:
        stack.enter_context(plt.rc_context(rc))
    return stack


def _render(fig: Any, dpi: int) -> tuple[bytes, bytes]:
    import matplotlib.pyplot as plt

    try:
        png, svg = io.BytesIO(), io.BytesIO()
        fig.savefig(png, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
        fig.savefig(svg, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    finally:
        plt.close(fig)
    return png.getvalue(), svg.getvalue()


def _render_pdf(fig: Any) -> bytes:
    """The figure's page as PDF, exactly its size (no tight bounding box), without dates or producer."""
    import matplotlib.pyplot as plt

    try:
        pdf = io.BytesIO()
        fig.savefig(pdf, format="pdf", metadata={"CreationDate": None, "Creator": None, "Producer": None})
    finally:
        plt.close(fig)
    return pdf.getvalue()


def _legend_columns(fig: Any, labels: Sequence[str], width: float) -> int:
    """The most legend columns of `labels` that fit in `width` inches (less a margin) at the legend's
    font size (matplotlib fills them column by column, each as wide as its widest entry)."""
    import matplotlib.pyplot as plt
    from matplotlib.font_manager import FontProperties

    rc = plt.rcParams
    font = FontProperties(size=rc["legend.fontsize"])
    renderer = fig.canvas.get_renderer()
    texts = [
        max(renderer.get_text_width_height_descent(line, font, ismath=False)[0] for line in label.split("\n"))
        for label in labels
    ]
    em = font.get_size_in_points() * fig.dpi / 72
    handle = (rc["legend.handlelength"] + rc["legend.handletextpad"]) * em
    for columns in range(len(labels), 1, -1):
        rows, longer = divmod(len(labels), columns)  # matplotlib's split: the first `longer` get a row more
        sizes = [rows + 1] * longer + [rows] * (columns - longer)
        chunks = [texts[start : start + size] for start, size in zip(np.cumsum([0, *sizes[:-1]]), sizes)]
        needed = sum(max(chunk) + handle for chunk in chunks) + (len(chunks) - 1) * rc["legend.columnspacing"] * em
        if needed + 2 * rc["legend.borderpad"] * em <= 0.95 * width * fig.dpi:
            return columns
    return 1


def _full(info: BoardInfo) -> float | None:
    """The full dense model's value on the board's cost axis (its MACs for old boards)."""
    return info.full_cost if info.full_cost is not None else (info.full_macs if info.axis == "macs" else None)
