"""The report as one static, offline web page: `index.html` beside the Markdown, CSV and LaTeX.

Per board (task, corpus): the header facts and corpus notes, an interactive Pareto plot
(`bench.report.interactive`) with a toggle per seed, the leaderboard, reference points and
breakdown as tables sortable by any column (click a header), the failed cells, links to the
board's files and its provenance (`bench.report.provenance`). plotly.js comes from the plotly
package and is inlined once, with the page's own script and style (`assets/`), so the page works
from the file system with no network. The same boards give the same bytes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import pandas as pd

from tradeoff_bench.bench.report.breakdown import breakdown_rule, display_breakdown
from tradeoff_bench.bench.report.format import THEORETICAL_NOTE, display_table, header_lines
from tradeoff_bench.bench.report.frame import method_rows, ok_rows
from tradeoff_bench.bench.report.leaderboard import BoardInfo
from tradeoff_bench.bench.report.peers import PEERS_INTRO, display_peers
from tradeoff_bench.bench.report.provenance import provenance_rows
from tradeoff_bench.bench.report.style import MethodStyle

TITLE = "tradeoff-bench results"
BOARD_FILES = (
    "leaderboard.md",
    "leaderboard.csv",
    "table.tex",
    "candidates.csv",
    "pareto.png",
    "pareto.svg",
    "pareto.column.pdf",
    "pareto.wide.pdf",
)


@dataclass(frozen=True)
class SiteBoard:
    """What the page shows of one board: its rows and the report's tables of it."""

    folder: str
    board: pd.DataFrame
    info: BoardInfo
    table: pd.DataFrame
    failed: pd.DataFrame
    peers: pd.DataFrame
    breakdown: pd.DataFrame


def site_html(
    boards: Sequence[SiteBoard],
    styles: dict[str, MethodStyle],
    budgets: Sequence[float],
    breakdown_budget: float,
    overview: str | None = None,
) -> str:
    """The whole page; `overview` is the relative path of the static overview figure, if any."""
    import plotly.offline

    nav = " ".join(f'<a href="#{_anchor(b.folder)}">{_esc(b.info.task)} ({_esc(b.info.corpus)})</a>' for b in boards)
    figure = (
        f'<p class="note">Static figure of every task: <a href="{overview}">{overview}</a> '
        f'(<a href="{overview.removesuffix(".png")}.svg">SVG</a>).</p>'
        if overview
        else ""
    )
    body = "\n".join(_board(b, styles, budgets, breakdown_budget) for b in boards) or "<p>No records.</p>"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{TITLE}</title>",
            f"<style>\n{_asset('site.css')}</style>",
            f"<script>{plotly.offline.get_plotlyjs()}</script>",
            "</head>",
            "<body>",
            f"<header><h1>{TITLE}</h1><nav>{nav}</nav>{figure}</header>",
            body,
            f"<script>\n{_asset('site.js')}</script>",
            "</body>",
            "</html>",
            "",
        ]
    )


def _board(b: SiteBoard, styles: dict[str, MethodStyle], budgets: Sequence[float], breakdown_budget: float) -> str:
    from tradeoff_bench.bench.report.interactive import board_figure_json
    from tradeoff_bench.bench.report.widths_plot import widths_figure_json

    anchor, info = _anchor(b.folder), b.info
    seeds = sorted({int(s) for s in ok_rows(method_rows(b.board))["seed"]})
    toggles = "".join(
        f'<label><input type="checkbox" class="seed-toggle" checked data-plot="plot-{anchor}" '
        f'data-seed="{s}"> seed {s}</label>'
        for s in seeds
    )
    figure = board_figure_json(b.board, info, styles).replace("</", "<\\/")
    parts = [
        f'<section class="board" id="{anchor}">',
        f"<h2>{_esc(info.task)} ({_esc(info.corpus)})</h2>",
        '<ul class="facts">' + "".join(f"<li>{_code(line)}</li>" for line in header_lines(info)) + "</ul>",
        f'<div class="controls">Seeds shown: {toggles}</div>' if toggles else "",
        '<p class="note">Lines: each method\'s front through its candidates, one point per configuration '
        "(label) at its mean cost over seeds and its seeds' aggregate metric, the bar over it from its "
        "seeds' least to greatest metric; markers: every seed's candidates. Click a method in the legend "
        "to hide it, double-click to show it alone; the metric axis starts on the fronts, and the autoscale "
        "button shows every point.</p>",
        f'<div class="plot" id="plot-{anchor}" data-figure="figure-{anchor}"></div>',
        f'<script type="application/json" id="figure-{anchor}">{figure}</script>',
        "<h3>Leaderboard</h3>",
        _table(*display_table(b.table, info, budgets)),
    ]
    widths = widths_figure_json(b.board)
    if widths is not None:
        widths = widths.replace("</", "<\\/")
        parts += [
            "<h3>Learned widths over training</h3>",
            '<p class="note">Each candidate that learns its widths (dcl: K; noisy-gates: the expected number of '
            "open gates E[K]) per knob at the end of every epoch, one line per seed; the large marker is the "
            "epoch whose parameters the candidate keeps (best dev epoch at its final widths).</p>",
            f'<div class="plot" id="widths-{anchor}" data-figure="widths-figure-{anchor}"></div>',
            f'<script type="application/json" id="widths-figure-{anchor}">{widths}</script>',
        ]
    if b.table.get("cost_kind", pd.Series(dtype=str)).isin(["theoretical", "mixed"]).any():
        parts.append(f'<p class="note">{_code(THEORETICAL_NOTE)}</p>')
    if len(b.peers):
        parts += [
            "<h3>Reference points</h3>",
            f'<p class="note">{_esc(PEERS_INTRO)}</p>',
            _table(*display_peers(b.peers, info)),
        ]
    if len(b.breakdown):
        parts += [
            f"<h3>Breakdown at ≤{breakdown_budget * 100:g}% MACs</h3>",
            f'<p class="note">{_code(breakdown_rule(info, breakdown_budget))}</p>',
            _table(*display_breakdown(b.breakdown, info)),
        ]
    if len(b.failed):
        items = "".join(
            f"<li><code>{_esc(c['cell_id'])}</code> ({_esc(c['method'])}, seed {c['seed']}): "
            f"{_esc(' '.join(str(c['error'] or 'no error recorded').split()))}</li>"
            for _, c in b.failed.iterrows()
        )
        parts += ["<h3>Failed cells</h3>", f"<ul>{items}</ul>"]
    files = " · ".join(f'<a href="{b.folder}/{name}">{name}</a>' for name in BOARD_FILES)
    provenance = "".join(
        f"<tr><th>{_esc(what)}</th><td>{_esc(values)}</td></tr>" for what, values in provenance_rows(b.board)
    )
    parts += [
        f'<p class="note">Files: {files}</p>',
        "<h3>Provenance</h3>",
        f'<table class="facts">{provenance}</table>',
        "</section>",
    ]
    return "\n".join(part for part in parts if part)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f'<th scope="col">{_esc(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return (
        f'<div class="scroll"><table class="sortable"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
    )


def _asset(name: str) -> str:
    return resources.files("tradeoff_bench.bench.report").joinpath("assets", name).read_text(encoding="utf-8")


def _anchor(folder: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", folder)


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _code(text: str) -> str:
    """Escaped text with `backticks` as <code>."""
    return re.sub(r"`([^`]*)`", r"<code>\1</code>", _esc(text))
