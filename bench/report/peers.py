"""Reference points of one (task, corpus): the task's reference systems beside the methods.

A reference system (`tasks.base.Peer`, recorded under the pseudo-method `frame.PEERS`) is not a
method: it has no seeds, no front and no hypervolume. It is listed in a table of its own (Markdown,
`peers.csv`) with where its figures come from: `origin` "measured" (here, on this task's
test split) or "published" (e.g. a paper's result on the real corpus), and `macs_source`, how its
MAC count was obtained ("fvcore", "analytic: ...", a citation; "unknown" when not said). In the
Pareto plot a peer is a fixed black star (hollow when published) named by its label; a peer
without a MAC count (or without a value of the primary metric) is in the table only, and the
table's caption says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from tradeoff_bench.bench.report.format import MISSING, markdown_table, number, percent, si
from tradeoff_bench.bench.report.frame import metric_info, peer_rows
from tradeoff_bench.bench.report.leaderboard import BoardInfo, board_info
from tradeoff_bench.core.registry import natural_key

ORIGINS = {"measured": "measured here on this test split", "published": "published"}
"""How an origin reads in the tables; other values are shown as they are."""
UNKNOWN_SOURCE = "unknown"
PEERS_INTRO = (
    "Reference systems, not methods: fixed points beside the fronts, with no seeds and no "
    "hypervolume. In the plot: black stars, hollow where the figures are published rather "
    "than measured here."
)


def peer_table(board: pd.DataFrame, breakdown: Sequence[str] = ()) -> pd.DataFrame:
    """One numeric row per reference system of `board` (deduplicated, natural label order).

    Columns: label, origin, the primary metric (named by it), macs, macs_source, macs_fraction,
    params, note, `plotted` and `not_plotted` (why not, else ""), then each name of `breakdown`
    that some peer reports (NaN where a peer does not).
    """

    rows = peer_rows(board)
    primary = (board_info(board).metric if len(board) else "") or "metric"
    names = [n for n in breakdown if any(n in (m or {}) for m in rows["metrics"])]
    out = []
    for _, row in sorted(rows.iterrows(), key=lambda item: natural_key(str(item[1]["label"]))):
        facts = row["facts"] or {}
        macs = None if pd.isna(row["macs"]) else int(row["macs"])
        value = row["metric"]
        reason = "no MAC count" if macs is None else f"no {primary} value" if math.isnan(value) else ""
        entry = {
            "label": row["label"],
            "origin": str(facts.get("origin") or "measured"),
            primary: value,
            "macs": macs,
            "macs_source": str(facts.get("macs_source") or UNKNOWN_SOURCE) if macs is not None else "",
            "macs_fraction": row["macs_fraction"],
            "params": None if pd.isna(row["params"]) else int(row["params"]),
            "note": " ".join(str(facts.get("note") or "").split()),
            "plotted": not reason,
            "not_plotted": reason,
        }
        entry.update({name: _float((row["metrics"] or {}).get(name)) for name in names})
        out.append(entry)
    columns = [
        "label",
        "origin",
        primary,
        "macs",
        "macs_source",
        "macs_fraction",
        "params",
        "note",
        "plotted",
        "not_plotted",
        *names,
    ]
    table = pd.DataFrame(out, columns=columns)
    for name in ("macs", "params"):
        table[name] = table[name].astype("Int64")
    return table


def display_peers(table: pd.DataFrame, info: BoardInfo) -> tuple[list[str], list[list[str]]]:
    """(headers, rows) of strings for a `peer_table`."""
    primary = info.metric or "metric"
    names = list(table.columns[table.columns.get_loc("not_plotted") + 1 :])
    headers = [
        "reference point",
        "origin",
        _with_unit(primary, info.unit),
        "MACs",
        "MACs source",
        "MACs fraction",
        "params",
        "note",
        *[_with_unit(n, metric_info(n, False)[0]) for n in names],
    ]
    rows = []
    for _, row in table.iterrows():
        macs = None if pd.isna(row["macs"]) else float(row["macs"])
        params = None if pd.isna(row["params"]) else float(row["params"])
        cells = [
            str(row["label"]),
            ORIGINS.get(row["origin"], row["origin"]),
            number(row[primary], ".4g"),
            si(macs),
            row["macs_source"] or MISSING,
            percent(row["macs_fraction"]),
            si(params),
            row["note"] or MISSING,
        ]
        cells += [number(row[name], ".4g") for name in names]
        rows.append(cells)
    return headers, rows


def peers_markdown(table: pd.DataFrame, info: BoardInfo, level: int = 1) -> str:
    """The "Reference points" section of `leaderboard.md` (empty without peers)."""
    if table.empty:
        return ""
    headers, rows = display_peers(table, info)
    parts = [f"{'#' * (level + 1)} Reference points\n", PEERS_INTRO + "\n", markdown_table(headers, rows)]
    parts += [f"{line}\n" for line in _captions(table)]
    return "\n".join(parts)


def _captions(table: pd.DataFrame) -> list[str]:
    lines = []
    for reason in sorted(set(table["not_plotted"]) - {""}):
        labels = ", ".join(f"`{label}`" for label in table.loc[table["not_plotted"] == reason, "label"])
        lines.append(f"Not plotted: {reason}: {labels}.")
    return lines


def _with_unit(name: str, unit: str) -> str:
    return f"{name} [{unit}]" if unit else name


def _float(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
