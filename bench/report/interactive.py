"""The interactive Pareto plot of one (task, corpus) for the site: a plotly figure as JSON.

Per method (in the colour and marker of `bench.report.style`), in this trace order: the front, then
one marker trace per seed. The front (the trace that carries the legend entry) is a step line
through candidates that exist, as in the static figures (`bench.report.plots`): per candidate label
the mean cost over its seeds and the board's aggregate of their metric, the labels' Pareto front
(`pareto.label_front`) up to its costliest point and no further, each point with an error bar over
its seeds' metrics (least to greatest; no band between points, where no candidate lies). All of a
method's traces share its legend group, so clicking the method in the legend hides or shows them
together; each trace's `meta` says `{"method", "seed", "role"}` (role: "front", "seed" or
"reference") for the page's seed toggles and for tests. Hovering a front point shows its label,
mean cost, aggregate metric, seed range and seed count; hovering a candidate shows method, label,
settings, seed, MACs (and whether they are theoretical), the metric (with its confidence interval
where the frame has `metric_ci_low`/`metric_ci_high`) and the record id. Reference systems are one
black-star trace (hollow: published). The MACs axis is logarithmic with explicit ticks
(`plots.log_ticks`: 1k, 2k, 5k, 10k, ... over the data's range, not plotly's bare minor digits); the
metric axis starts on `focus.focus_range`, and the plot's autoscale button shows everything."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from tradeoff_bench.bench.report.focus import focus_range
from tradeoff_bench.bench.report.format import si
from tradeoff_bench.bench.report.frame import method_rows, ok_rows, peer_rows
from tradeoff_bench.bench.report.leaderboard import BoardInfo
from tradeoff_bench.bench.report.pareto import label_front
from tradeoff_bench.bench.report.plots import log_ticks
from tradeoff_bench.bench.report.style import PEER_COLOUR, MethodStyle

SPREAD_OPACITY = 0.45
SEED_OPACITY = 0.55
CI_COLUMNS = ("metric_ci_low", "metric_ci_high")


def board_figure_json(board: pd.DataFrame, info: BoardInfo, styles: dict[str, MethodStyle]) -> str:
    """The plotly figure of one board (`{"data": [...], "layout": {...}}`) as deterministic JSON."""
    import plotly.graph_objects as go
    import plotly.io as pio

    rows = ok_rows(method_rows(board))
    peers = ok_rows(peer_rows(board))
    metric = f"{info.metric or 'metric'}{f' [{info.unit}]' if info.unit else ''}"
    costs = [float(c) for c in [*rows["cost"], *peers["cost"], _full(info) or 0] if c and c > 0]
    ticks = log_ticks(min(costs), max(costs)) if costs else ([], [])
    fronts = {m: label_front(rows[rows["method"] == m], info.aggregate) for m in styles if m in set(rows["method"])}
    fig = go.Figure()
    for method, front in fronts.items():
        for trace in _method_traces(rows[rows["method"] == method], front, method, styles[method], metric, info):
            fig.add_trace(trace)
    if len(peers):
        fig.add_trace(_peer_trace(peers, metric))
    limits = focus_range(
        pd.concat([*(f["metric"] for f in fronts.values()), peers["metric"]]), info.ideal_metric, info.higher_is_better
    )
    fig.update_layout(
        template="plotly_white",
        height=520,
        margin={"l": 70, "r": 20, "t": 30, "b": 60},
        xaxis={
            "type": "log",
            "title": {"text": f"{info.axis_label} per {info.cost_unit or 'example'} (log)"},
            **({"tickmode": "array", "tickvals": ticks[0], "ticktext": ticks[1]} if ticks[0] else {}),
        },
        yaxis={"title": {"text": f"{metric} ({info.direction})"}, **({"range": list(limits)} if limits else {})},
        legend={"title": {"text": "method (click to hide)"}},
        hovermode="closest",
    )
    if _full(info):
        fig.add_vline(
            x=_full(info),
            line={"dash": "dot", "color": "#666", "width": 1},
            annotation_text="full dense model",
            annotation_position="top left",
        )
    return pio.to_json(fig, validate=True, engine="json")


def _method_traces(
    rows: pd.DataFrame, front: pd.DataFrame, method: str, style: MethodStyle, metric: str, info: BoardInfo
) -> list[Any]:
    import plotly.graph_objects as go

    theoretical = bool((rows["cost_kind"] == "theoretical").any())
    group = {"legendgroup": method, "showlegend": False}
    traces = [
        go.Scatter(
            x=list(front["cost"]),
            y=list(front["metric"]),
            customdata=[
                [str(p["label"]), int(p["seeds"]), float(p["low"]), float(p["high"])] for _, p in front.iterrows()
            ],
            error_y={
                "type": "data",
                "symmetric": False,
                "array": list(front["high"] - front["metric"]),
                "arrayminus": list(front["metric"] - front["low"]),
                "color": _rgba(style.colour, SPREAD_OPACITY),
                "thickness": 3,
                "width": 0,
            },
            mode="lines+markers",
            legendgroup=method,
            name=f"{method} (theoretical cost)" if theoretical else method,
            line={"shape": "hv", "color": style.colour, "width": 2.5, "dash": "dash" if theoretical else "solid"},
            marker={
                "symbol": style.plotly_symbol,
                "size": 9,
                "color": style.colour,
                "line": {"color": "white", "width": 1},
            },
            hovertemplate=(
                f"<b>{method}</b> · %{{customdata[0]}}: {info.aggregate} over %{{customdata[1]}} seeds"
                f"<br>mean {info.axis_label} %{{x:.4~s}}<br>{metric} %{{y:.4~g}} (seeds %{{customdata[2]:.4~g}} to "
                "%{customdata[3]:.4~g})<extra></extra>"
            ),
            meta={"method": method, "seed": None, "role": "front"},
        )
    ]
    for seed, mine in rows.groupby("seed", sort=True):
        traces.append(
            go.Scatter(
                x=mine["cost"],
                y=mine["metric"],
                mode="markers",
                name=f"{method} seed {seed}",
                customdata=[_hover_facts(row) for _, row in mine.iterrows()],
                opacity=SEED_OPACITY,
                marker={
                    "symbol": style.plotly_symbol + ("-open" if theoretical else ""),
                    "size": 7,
                    "color": style.colour,
                },
                hovertemplate=(
                    f"<b>{method}</b> · %{{customdata[0]}}<br>settings: %{{customdata[1]}}<br>seed {seed}"
                    f"<br>MACs %{{x:.4~s}}%{{customdata[2]}}<br>{metric} %{{y:.4~g}}%{{customdata[3]}}"
                    "<br>record %{customdata[4]}<extra></extra>"
                ),
                meta={"method": method, "seed": int(seed), "role": "seed"},
                **group,
            )
        )
    return traces


def _peer_trace(peers: pd.DataFrame, metric: str) -> Any:
    import plotly.graph_objects as go

    origin = [str((facts or {}).get("origin") or "measured") for facts in peers["facts"]]
    source = [str((facts or {}).get("macs_source") or "unknown") for facts in peers["facts"]]
    return go.Scatter(
        x=peers["cost"],
        y=peers["metric"],
        mode="markers+text",
        text=list(peers["label"]),
        textposition="top center",
        name="reference points",
        customdata=list(zip(origin, source)),
        marker={
            "symbol": ["star-open" if o == "published" else "star" for o in origin],
            "size": 15,
            "color": PEER_COLOUR,
        },
        hovertemplate=(
            f"<b>%{{text}}</b> (reference, %{{customdata[0]}})<br>MACs %{{x:.4~s}} (%{{customdata[1]}})"
            f"<br>{metric} %{{y:.4~g}}<extra></extra>"
        ),
        meta={"method": None, "seed": None, "role": "reference"},
    )


def _hover_facts(row: pd.Series) -> list[str]:
    """[label, settings, MACs note, CI text, record id] of one candidate row."""
    settings = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted((row["settings"] or {}).items()) if v is not None)
    kind = f" (theoretical; {si(float(row['macs']))} measured)" if row["cost_kind"] == "theoretical" else ""
    low, high = (row.get(name) for name in CI_COLUMNS)
    ci = (
        f" [{low:.4g}, {high:.4g}]" if low is not None and high is not None and pd.notna(low) and pd.notna(high) else ""
    )
    return [str(row["label"]), settings or "defaults", kind, ci, str(row["record_id"])]


def _rgba(colour: str, alpha: float) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def _full(info: BoardInfo) -> float | None:
    """The full dense model's value on the board's cost axis (its MACs for old boards)."""
    return info.full_cost if info.full_cost is not None else (info.full_macs if info.axis == "macs" else None)
