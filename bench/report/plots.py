"""Pareto plot of one (task, corpus): metric vs MACs (log x), one colour per method, seeds visible.

Every candidate of every seed is a marker (colour = method, marker shape = seed). Each method's
front is drawn as a step line over the candidates of all its seeds pooled, run on to the right edge
of the data: the best trade-off seen in any seed, an optimistic envelope; the per-seed spread is in
the leaderboard's hypervolume std.
Candidates whose MACs are theoretical are ringed in black and named so in the legend. A dotted
vertical line marks the full dense model's MACs (the hypervolume's x reference).
Reference systems (`bench.report.peers`) are black stars named by their label, hollow when their
figures are published rather than measured here; they take no method colour, and those without a
MAC count (or primary metric value) are left out (the reference-point table says so).

seaborn and matplotlib are imported inside the function so that importing `bench.report` is cheap;
the figure is drawn with the Agg backend and rendered to bytes that do not change between runs
(fixed SVG hash salt, no date or software metadata).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import pandas as pd

from bench.report.frame import method_rows, ok_rows, peer_rows
from bench.report.leaderboard import BoardInfo
from bench.report.pareto import front_rows

SEED_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "h", "<", ">")  # no star: that marks a peer
SVG_SALT = "tradeoff-bench"
PEER_MARKER = "*"


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

    rows = ok_rows(method_rows(board)).copy()
    peers = ok_rows(peer_rows(board))  # those with a MAC count and a metric: the plotted ones
    if methods is None:
        methods = sorted(method_rows(board)["method"].unique(), key=natural_key)
    methods = list(methods)
    palette = dict(zip(methods, sns.color_palette("colorblind", len(methods)), strict=True))
    seeds = sorted(rows["seed"].unique())
    markers = {str(s): SEED_MARKERS[i % len(SEED_MARKERS)] for i, s in enumerate(seeds)}
    rows["seed "] = rows["seed"].astype(str)  # a label column: seaborn titles the legend with it

    with plt.rc_context({"svg.hashsalt": SVG_SALT, "svg.fonttype": "path"}), sns.axes_style("whitegrid"):
        fig, ax = plt.subplots(figsize=(7.5, 4.8))
        try:
            _draw(ax, rows, peers, info, methods, palette, markers)
            png, svg = io.BytesIO(), io.BytesIO()
            fig.savefig(png, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
            fig.savefig(svg, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
        finally:
            plt.close(fig)
    return png.getvalue(), svg.getvalue()


def _draw(ax, rows: pd.DataFrame, peers: pd.DataFrame, info: BoardInfo, methods: list[str], palette: dict,
          markers: dict[str, str]) -> None:
    import seaborn as sns

    present = [m for m in methods if m in set(rows["method"])]
    if rows.empty and peers.empty:
        ax.text(0.5, 0.5, "no successful candidates", ha="center", va="center", transform=ax.transAxes)
    if not rows.empty:
        sns.scatterplot(data=rows, x="cost_macs", y="metric", hue="method", hue_order=present,
                        palette=palette, style="seed ", style_order=list(markers), markers=markers,
                        s=45, alpha=0.75, ax=ax)
        right = max(float(rows["cost_macs"].max()), float(peers["cost_macs"].max() if len(peers) else 0),
                    float(info.full_macs or 0))
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
    if not peers.empty:
        _draw_peers(ax, peers)
    if not rows.empty or not peers.empty:
        if info.full_macs:
            ax.axvline(info.full_macs, color="0.4", linestyle=":", linewidth=1.0, label="full dense model")
        ax.set_xscale("log")
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize="small")
    unit = f" [{info.unit}]" if info.unit else ""
    ax.set_xlabel(f"MACs per {info.cost_unit or 'example'}")
    ax.set_ylabel(f"{info.metric or 'metric'}{unit} ({info.direction})")
    ax.set_title(f"{info.task} — {info.corpus}")


def _draw_peers(ax, peers: pd.DataFrame) -> None:
    """Black stars (hollow: published) annotated with their labels, in label order."""
    origin = peers["facts"].map(lambda facts: (facts or {}).get("origin") or "measured")
    for published, label in ((False, "reference (measured here)"), (True, "reference (published)")):
        mine = peers[(origin == "published") == published]
        if len(mine):
            ax.scatter(mine["cost_macs"], mine["metric"], marker=PEER_MARKER, s=160, linewidths=1.1,
                       facecolors="none" if published else "black", edgecolors="black", zorder=4, label=label)
    for _, peer in peers.iterrows():
        ax.annotate(str(peer["label"]), (float(peer["cost_macs"]), float(peer["metric"])), xytext=(6, 4),
                    textcoords="offset points", fontsize="small", color="black")
