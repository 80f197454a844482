"""The site's plot of learned widths over training: a DCL candidate's K (and noisy-gates' expected
width E[K]) per knob at the end of each epoch, read from the candidate's training history
(`facts["history"]`, the `train.csv` of its outputs).

One trace per (candidate label, knob) holding every seed's line (gaps between them; hovering says
the seed), coloured by label, and one marker trace per label at the epoch each seed kept (the
dev-selected parameters the candidate keeps); a label's traces share a legend group, so clicking it
hides or shows them all. A history of several phases (pre-training, then fine-tuning) is drawn over
its phases' epochs in order. Traces' `meta`: `{"label", "knob", "role": "history", "seeds"}` or
`{"label", "role": "kept"}`. (One trace per seed made the site's page 40 % heavier.)
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
    for label in labels:
        mine = [h for h in histories if h["label"] == label]
        for knob in dict.fromkeys(h["knob"] for h in mine):
            lines = [h for h in mine if h["knob"] == knob]  # one line per seed, gaps between them
            fig.add_trace(
                go.Scatter(
                    x=[x for h in lines for x in [*h["epochs"], None]],
                    y=[y for h in lines for y in [*h["widths"], None]],
                    customdata=[h["seed"] for h in lines for _ in [*h["epochs"], None]],
                    mode="lines",
                    name=label,
                    legendgroup=label,
                    showlegend=knob == mine[0]["knob"],
                    line={"color": colours[label], "width": 1.5},
                    hovertemplate=f"<b>{label}</b> · {knob}, seed %{{customdata}}<br>epoch %{{x}}: %{{y:.2f}}<extra></extra>",
                    meta={"label": label, "knob": knob, "role": "history", "seeds": [h["seed"] for h in lines]},
                )
            )
        kept = [h for h in mine if h["selected"] is not None]
        fig.add_trace(
            go.Scatter(
                x=[h["epochs"][h["selected"]] for h in kept],
                y=[h["widths"][h["selected"]] for h in kept],
                mode="markers",
                name=f"{label}: kept epoch",
                legendgroup=label,
                showlegend=False,
                marker={"size": 8, "color": colours[label]},
                hovertemplate=f"<b>{label}</b>: the epoch kept<extra></extra>",
                meta={"label": label, "role": "kept"},
            )
        )
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
