"""Pareto plot of one (task, corpus): metric vs MACs (log x), one colour per method, seeds visible.

Every candidate of every seed is a marker (colour = method, marker shape = seed). Each method's
front is drawn as a step line over the candidates of all its seeds pooled, run on to the right edge
of the data: the best trade-off seen in any seed, an optimistic envelope; the per-seed spread is in
the leaderboard's hypervolume std.
Candidates whose MACs are theoretical are ringed in black and named so in the legend. A dotted
vertical line marks the full dense model's MACs (the hypervolume's x reference).

seaborn and matplotlib are imported inside the function so that importing `bench.report` is cheap;
the figure is drawn with the Agg backend and rendered to bytes that do not change between runs
(fixed SVG hash salt, no date or software metadata).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import pandas as pd

from bench.report.frame import ok_rows
from bench.report.leaderboard import BoardInfo
from bench.report.pareto import front_rows

SEED_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
SVG_SALT = "tradeoff-bench"


def pareto_figure_bytes(board: pd.DataFrame, info: BoardInfo, methods: Sequence[str] | None = None,
                        dpi: int = 150) -> tuple[bytes, bytes]:
    """(PNG, SVG) bytes of the Pareto plot of one board.

    `methods` fixes the colour order (pass every method of the report so a method keeps its colour
    across tasks); by default the board's methods in natural order.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    from tasks.registry import natural_key  # lazily: importing `tasks` loads torch

    rows = ok_rows(board).copy()
    methods = list(methods) if methods is not None else sorted(board["method"].unique(), key=natural_key)
    palette = dict(zip(methods, sns.color_palette("colorblind", len(methods)), strict=True))
    seeds = sorted(rows["seed"].unique())
    markers = {str(s): SEED_MARKERS[i % len(SEED_MARKERS)] for i, s in enumerate(seeds)}
    rows["seed "] = rows["seed"].astype(str)  # a label column: seaborn titles the legend with it

    with plt.rc_context({"svg.hashsalt": SVG_SALT, "svg.fonttype": "path"}), sns.axes_style("whitegrid"):
        fig, ax = plt.subplots(figsize=(7.5, 4.8))
        try:
            _draw(ax, rows, info, methods, palette, markers)
            png, svg = io.BytesIO(), io.BytesIO()
            fig.savefig(png, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
            fig.savefig(svg, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
        finally:
            plt.close(fig)
    return png.getvalue(), svg.getvalue()


def _draw(ax, rows: pd.DataFrame, info: BoardInfo, methods: list[str], palette: dict,
          markers: dict[str, str]) -> None:
    import seaborn as sns

    present = [m for m in methods if m in set(rows["method"])]
    if rows.empty:
        ax.text(0.5, 0.5, "no successful candidates", ha="center", va="center", transform=ax.transAxes)
    else:
        sns.scatterplot(data=rows, x="cost_macs", y="metric", hue="method", hue_order=present,
                        palette=palette, style="seed ", style_order=list(markers), markers=markers,
                        s=45, alpha=0.75, ax=ax)
        right = max(float(rows["cost_macs"].max()), float(info.full_macs or 0))
        for method in present:
            front = front_rows(rows[rows["method"] == method])
            # the last step runs on to the right edge: spending more never does worse than the front
            x = [*front["cost_macs"].astype(float), right]
            y = [*front["metric"].astype(float), float(front["metric"].iloc[-1])]
            ax.plot(x, y, drawstyle="steps-post", color=palette[method], linewidth=1.6, alpha=0.9)
        theoretical = rows[rows["macs_kind"] == "theoretical"]
        if len(theoretical):
            ax.scatter(theoretical["cost_macs"], theoretical["metric"], s=140, facecolors="none",
                       edgecolors="black", linewidths=0.9, label="theoretical MACs")
        if info.full_macs:
            ax.axvline(info.full_macs, color="0.4", linestyle=":", linewidth=1.0, label="full dense model")
        ax.set_xscale("log")
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize="small")
    unit = f" [{info.unit}]" if info.unit else ""
    ax.set_xlabel(f"MACs per {info.cost_unit or 'example'}")
    ax.set_ylabel(f"{info.metric or 'metric'}{unit} ({info.direction})")
    ax.set_title(f"{info.task} — {info.corpus}")
