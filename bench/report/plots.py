"""Static Pareto figures (PNG for reading, SVG for papers): one per (task, corpus) and a faceted overview.

Each method is summarised over its seeds by attainment surfaces (`pareto.median_front`, moocore's
EAF): a step line along the median attainment surface with a band from the surface one seed attains
to the one all seeds attain (up to the costliest candidate), in the method's colour and marker
(`bench.report.style`), run on to the right edge of the data; every seed's candidates are small
faint markers behind it. A method whose MACs are theoretical (unstructured sparsity) has a dashed
front and says so in the legend. The metric axis spans the fronts (`bench.report.focus`); a
candidate or front point beyond it is a hollow triangle on the axis edge pointing towards its
value. A dotted vertical line marks the full dense model's MACs (the hypervolume's x reference).
Reference systems (`bench.report.peers`) are black stars named by their label, hollow when their
figures are published rather than measured here; those without a MAC count (or primary metric
value) are left out (the reference-point table says so).

seaborn and matplotlib are imported inside the functions so that importing `bench.report` is
cheap; figures are drawn with the Agg backend and rendered to bytes that do not change between
runs (fixed SVG hash salt, no date or software metadata).
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
from tradeoff_bench.bench.report.pareto import median_front
from tradeoff_bench.bench.report.style import PEER_COLOUR, MethodStyle, method_styles
from tradeoff_bench.core.registry import natural_key

SVG_SALT = "tradeoff-bench"
PEER_MARKER = "*"
BAND_ALPHA = 0.12
SEED_ALPHA = 0.35
OUTLIER_LABEL = "beyond the axis (drawn at its edge)"
PANEL_INCHES = (5.2, 3.9)
OVERVIEW_COLUMNS = 3

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


def draw_board(ax: Any, board: pd.DataFrame, info: BoardInfo, styles: dict[str, MethodStyle]) -> dict[str, Any]:
    """Draw one board on `ax`; returns the legend entries it used ({label: handle})."""
    rows = ok_rows(method_rows(board))
    peers = ok_rows(peer_rows(board))  # those with a MAC count and a metric: the plotted ones
    unit = f" [{info.unit}]" if info.unit else ""
    ax.set_xlabel(f"{info.axis_label} per {info.cost_unit or 'example'}")
    ax.set_ylabel(f"{info.metric or 'metric'}{unit} ({info.direction})")
    ax.set_title(f"{info.task} — {info.corpus}", fontsize="medium", pad=10)
    if rows.empty and peers.empty:
        ax.text(0.5, 0.5, "no successful candidates", ha="center", va="center", transform=ax.transAxes)
        return {}
    present = [m for m in styles if m in set(rows["method"])]
    fronts = {m: median_front(rows[rows["method"] == m]) for m in present}
    limits = focus_range(
        pd.concat([*(f["metric"] for f in fronts.values()), peers["metric"]]), info.ideal_metric, info.higher_is_better
    )
    right = max(
        float(rows["cost"].max()) if len(rows) else 0.0,
        float(peers["cost"].max()) if len(peers) else 0.0,
        float(_full(info) or 0),
    )
    handles: dict[str, Any] = {}
    for method in present:
        mine = rows[rows["method"] == method]
        theoretical = bool((mine["cost_kind"] == "theoretical").any())
        label = f"{method} (theoretical {info.axis_label})" if theoretical else method
        handles[label] = _draw_method(ax, mine, fronts[method], styles[method], right, limits, theoretical)
    if len(peers):
        handles.update(_draw_peers(ax, peers, limits))
    if any(
        _outside(v, limits).any() for v in [rows["metric"], peers["metric"], *(f["metric"] for f in fronts.values())]
    ):
        from matplotlib.lines import Line2D

        handles[OUTLIER_LABEL] = Line2D([], [], linestyle="", marker="^", markerfacecolor="none", color="0.35")
    if _full(info):
        handles["full dense model"] = ax.axvline(_full(info), color="0.4", linestyle=":", linewidth=1.0)
    _log_macs_axis(ax)
    if limits:
        ax.set_ylim(*limits)
    return handles


def _draw_method(
    ax: Any,
    rows: pd.DataFrame,
    front: pd.DataFrame,
    style: MethodStyle,
    right: float,
    limits: tuple[float, float] | None,
    theoretical: bool,
) -> Any:
    from matplotlib.lines import Line2D

    _scatter_clipped(
        ax,
        rows["cost"],
        rows["metric"],
        limits,
        style.colour,
        marker=style.marker,
        s=14,
        alpha=SEED_ALPHA,
        linewidths=0,
        zorder=2,
    )
    if len(front):
        ax.fill_between(
            front["cost"],
            front["best"],
            front["worst"],
            step="post",
            color=style.colour,
            alpha=BAND_ALPHA,
            linewidth=0,
            zorder=1,
        )  # the band ends at the costliest candidate
        ax.plot(
            [*front["cost"], right],
            [*front["metric"], front["metric"].iloc[-1]],
            drawstyle="steps-post",
            color=style.colour,
            linewidth=1.8,
            linestyle="--" if theoretical else "-",
            zorder=3,
        )
        _scatter_clipped(
            ax,
            front["cost"],
            front["metric"],
            limits,
            style.colour,
            marker=style.marker,
            s=42,
            edgecolors="white",
            linewidths=0.7,
            zorder=4,
        )
    return Line2D(
        [], [], color=style.colour, marker=style.marker, linestyle="--" if theoretical else "-", markeredgecolor="white"
    )


def _draw_peers(ax: Any, peers: pd.DataFrame, limits: tuple[float, float] | None) -> dict[str, Any]:
    """Black stars (hollow: published) annotated with their labels, in label order."""
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
                s=160,
                linewidths=1.1,
                facecolors=face,
                edgecolors=PEER_COLOUR,
                zorder=5,
            )
            handles[label] = Line2D(
                [], [], linestyle="", marker=PEER_MARKER, markersize=11, markerfacecolor=face, color=PEER_COLOUR
            )
    for _, peer in peers.iterrows():
        y = float(np.clip(peer["metric"], *limits)) if limits else float(peer["metric"])
        ax.annotate(
            str(peer["label"]),
            (float(peer["cost"]), y),
            xytext=(6, 4),
            textcoords="offset points",
            fontsize="small",
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
    """Log scale labelled with SI prefixes at 1, 2 and 5 times each power of ten (no crowded minor labels)."""
    from matplotlib.ticker import EngFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _outside(values: Any, limits: tuple[float, float] | None) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if limits is None:
        return np.zeros(values.shape, dtype=bool)
    return (values < limits[0]) | (values > limits[1])


def _methods(boards: Sequence[pd.DataFrame]) -> list[str]:

    return sorted({m for board in boards for m in method_rows(board)["method"].unique()}, key=natural_key)


def _context() -> Any:
    import contextlib

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    stack = contextlib.ExitStack()
    stack.enter_context(plt.rc_context({"svg.hashsalt": SVG_SALT, "svg.fonttype": "path"}))
    stack.enter_context(sns.axes_style("whitegrid"))
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


def _full(info: BoardInfo) -> float | None:
    """The full dense model's value on the board's cost axis (its MACs for old boards)."""
    return info.full_cost if info.full_cost is not None else (info.full_macs if info.axis == "macs" else None)
