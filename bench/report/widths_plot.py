"""The site's plot of learned widths over training: a DCL candidate's K (and noisy-gates' expected
width E[K]) per knob at the end of each epoch, read from the candidate's training history
(`facts["history"]`, the `train.csv` of its outputs).

One line per (candidate label, seed, knob), coloured by label, in one legend group per label: the
first seed's line carries the legend entry, so clicking a label hides or shows all its seeds.
Epochs of a phase are numbered from 1; a history of several phases (pre-training, then
fine-tuning) is drawn over its phases' epochs in order. The selected epoch (the dev-selected
parameters the candidate keeps) is a filled marker. Traces' `meta` is `{"label", "seed", "knob"}`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from tradeoff_bench.bench.report.frame import method_rows, ok_rows
from tradeoff_bench.bench.report.style import PALETTE

LEARNED_WIDTHS = ("K", "E[K]")
"""History keys of learned widths: `dcl`'s K and `noisy-gates`' expected open gates."""


def width_histories(board: pd.DataFrame) -> list[dict[str, Any]]:
    """label, method, seed, knob, key, epochs, widths, selected (epoch index) per learned knob of
    every ok candidate whose history has learned widths; sorted by label, seed and knob."""
    found = []
    for _, row in ok_rows(method_rows(board)).iterrows():
        history = [e for e in (row["facts"] or {}).get("history") or [] if any(k in e for k in LEARNED_WIDTHS)]
        if not history:
            continue
        key = next(k for k in LEARNED_WIDTHS if k in history[0])
        selected = next((i for i, e in enumerate(history) if e.get("selected")), None)
        for knob in history[0][key]:
            found.append(
                {
                    "label": str(row["label"]),
                    "method": str(row["method"]),
                    "seed": int(row["seed"]),
                    "knob": str(knob),
                    "key": key,
                    "epochs": list(range(1, len(history) + 1)),
                    "widths": [float(e[key][knob]) for e in history],
                    "selected": selected,
                }
            )
    return sorted(found, key=lambda h: (h["label"], h["seed"], h["knob"]))


def widths_figure_json(board: pd.DataFrame) -> str | None:
    """The plotly figure of the board's learned widths over training, or None when none learned any."""
    import plotly.graph_objects as go
    import plotly.io as pio

    histories = width_histories(board)
    if not histories:
        return None
    labels = sorted({h["label"] for h in histories})
    colours = {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(labels)}
    fig = go.Figure()
    shown: set[str] = set()
    for h in histories:
        sizes = [9 if i == h["selected"] else 4 for i in range(len(h["epochs"]))]
        fig.add_trace(
            go.Scatter(
                x=h["epochs"],
                y=h["widths"],
                mode="lines+markers",
                name=h["label"],
                legendgroup=h["label"],
                showlegend=h["label"] not in shown,
                line={"color": colours[h["label"]], "width": 1.5},
                marker={"size": sizes, "color": colours[h["label"]]},
                hovertemplate=(
                    f"<b>{h['label']}</b> seed {h['seed']} · {h['knob']}<br>epoch %{{x}}: "
                    f"{h['key']} %{{y:.2f}} channels<extra></extra>"
                ),
                meta={"label": h["label"], "seed": h["seed"], "knob": h["knob"]},
            )
        )
        shown.add(h["label"])
    fig.update_layout(
        template="plotly_white",
        height=420,
        margin={"l": 70, "r": 20, "t": 30, "b": 60},
        xaxis={"title": {"text": "epoch"}, "dtick": 1 if max(len(h["epochs"]) for h in histories) <= 20 else None},
        yaxis={"title": {"text": "learned width (channels), per knob"}, "rangemode": "tozero"},
        legend={"title": {"text": "candidate (click to hide)"}},
        hovermode="closest",
    )
    return pio.to_json(fig, validate=True, engine="json")
