"""Records -> one pandas DataFrame: the only table the report reads.

One row per record, failed ones included (their figures are NaN) so the leaderboard can list them.
Besides `core.records.COLUMNS` a row carries:

- `metric`: the value of the record's primary metric (NaN for a failed record);
- `macs_kind`: "measured", or "theoretical" when the method's facts say the MAC count is not what
  dense hardware runs (facts `macs_kind == "theoretical"`, or a `macs_theoretical` fact, e.g.
  unstructured sparsity counting only non-zero weights);
- `macs_theoretical`: that theoretical count when the fact holds a number (else NaN);
- `cost`, `cost_fraction`, `cost_kind`, `full_cost`: the cost the report ranks by, on the frame's
  axis (`bench.report.axes`; default MACs): for MACs `macs_theoretical` where given, else the measured
  `macs` (bit-operations scale the same way); divided by the full dense model's value on that axis;
  "theoretical" or "measured". `macs` and `macs_fraction` always stay the measured dense count, so
  a theoretical figure is never passed off as a measured one;
- `metric_unit`, `metric_aggregate`, `ideal_metric`: from the metric's registered spec
  (`tasks.metrics`); `ideal_metric` is the perfect value that the hypervolume maps to 0;
- `metric_ci_low`, `metric_ci_high`, `metric_ci_note`: the metric's 95 % bootstrap interval over
  test items, or why there is none; empty here, filled by `bootstrap.with_intervals`.

Records whose method is `PEERS` are a task's reference systems, not a method's candidates:
`method_rows` leaves them out (leaderboards, hypervolumes, budgets, fronts, colours, candidates.csv)
and `peer_rows` gives them, one per (task, corpus, label) however many runs are reported together.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pandas as pd

from tradeoff_bench.bench.latency import LATENCY_FIELDS
from tradeoff_bench.bench.report.axes import DEFAULT_AXIS, CostAxis, cost_axis
from tradeoff_bench.core.records import COLUMNS, Record

PEERS = "peers"
"""`bench.grid.PEERS`, the pseudo-method of reference-system records (not imported from there:
`bench.grid` loads torch, and reading records should not)."""

EXTRA_COLUMNS: tuple[str, ...] = (
    "metric",
    "macs_kind",
    "macs_theoretical",
    "cost",
    "cost_fraction",
    "cost_kind",
    "full_cost",
    "cost_axis",
    "metric_unit",
    "metric_aggregate",
    "ideal_metric",
    "metric_ci_low",
    "metric_ci_high",
    "metric_ci_note",
)
FRAME_COLUMNS: tuple[str, ...] = COLUMNS + EXTRA_COLUMNS
ROW_ORDER: list[str] = ["task", "corpus", "method", "seed", "cell_id", "status", "cost", "label"]
"""Rows are sorted by these, so the same records give the same tables in any input order."""

_INTEGERS = ("seed", "macs", "full_macs", "params", "bytes", "bops", "weight_bytes", "peak_activation_bytes")
_FLOATS = (
    *LATENCY_FIELDS,
    "full_cost",
    "reference_metric",
    "train_seconds",
    "train_epochs",
    "macs_fraction",
    "metric",
    "macs_theoretical",
    "cost",
    "cost_fraction",
    "ideal_metric",
    "metric_ci_low",
    "metric_ci_high",
)

CANDIDATE_COLUMNS: tuple[str, ...] = (
    "task",
    "corpus",
    "method",
    "seed",
    "cell_id",
    "label",
    "macs",
    "macs_fraction",
    "macs_kind",
    "macs_theoretical",
    "params",
    "bytes",
    "bops",
    "weight_bytes",
    "peak_activation_bytes",
    "latency_ms",
    "latency_ci_low_ms",
    "latency_ci_high_ms",
    "onnx_latency_ms",
    "metric",
    "metric_ci_low",
    "metric_ci_high",
    "metric_ci_note",
    "train_seconds",
    "train_epochs",
    "widths",
)


def records_frame(records: Iterable[Record | Mapping[str, Any]], axis: str = DEFAULT_AXIS) -> pd.DataFrame:
    """One row per record (dicts are read with `Record.from_dict`), sorted by `ROW_ORDER`, ranked
    on the cost `axis` (`bench.report.axes`)."""
    chosen = cost_axis(axis)
    rows = [_row(r if isinstance(r, Record) else Record.from_dict(dict(r)), chosen) for r in records]
    frame = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
    for name in _INTEGERS:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("Int64")
    for name in _FLOATS:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    frame["higher_is_better"] = frame["higher_is_better"].astype(bool)
    frame = _model_families_apart(frame)
    frame = frame.sort_values(ROW_ORDER, kind="mergesort", na_position="last")
    return frame.reset_index(drop=True)


def ok_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of successful records with a finite metric and cost: the candidates of the fronts."""
    mask = (frame["status"] == "ok") & frame["metric"].notna() & frame["cost_fraction"].notna()
    return frame[mask]


def method_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of real methods: every row except the reference systems' (`PEERS`)."""
    return frame[frame["method"] != PEERS]


def peer_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Successful reference-system rows, one per (task, corpus, label), sorted by those keys.

    Peer records do not depend on the seed, so a peer found in several reported runs is one
    reference point: the most recent measurement (provenance `time_utc`) is kept, ties going to
    the smaller cell id and then to the record's figures, so the choice ignores input order.
    """
    rows = frame[(frame["method"] == PEERS) & (frame["status"] == "ok")]
    if rows.empty:
        return rows
    keyed = rows.assign(
        _time=rows["provenance"].map(lambda p: str((p or {}).get("time_utc") or "")),
        _figures=[
            json.dumps([r.macs, r.params, r.metrics, r.facts], sort_keys=True, default=str) for r in rows.itertuples()
        ],
    )
    keyed = keyed.sort_values(
        ["task", "corpus", "label", "_time", "cell_id", "_figures"],
        ascending=[True, True, True, False, True, True],
        kind="mergesort",
    )
    keyed = keyed.drop_duplicates(["task", "corpus", "label"])
    return keyed.drop(columns=["_time", "_figures"])


def boards(frame: pd.DataFrame) -> Iterator[tuple[str, str, pd.DataFrame]]:
    """(task, corpus, rows) per leaderboard, in sorted order; a front never mixes corpora."""
    for (task, corpus), rows in frame.groupby(["task", "corpus"], sort=True):
        yield str(task), str(corpus), rows


def candidates_table(frame: pd.DataFrame) -> pd.DataFrame:
    """All successful method records flattened for `candidates.csv` (widths as `knob=width,...`).

    Reference systems are not candidates: they are listed in `peers.csv`."""
    rows = method_rows(frame)
    rows = rows[rows["status"] == "ok"].copy()
    rows["widths"] = rows["widths"].map(compact_widths)
    return rows[list(CANDIDATE_COLUMNS)].reset_index(drop=True)


def compact_widths(widths: Mapping[str, int] | None) -> str:
    """`{"hidden1": 8, "hidden2": 16}` -> `hidden1=8,hidden2=16` (knob order kept)."""
    return ",".join(f"{knob}={width}" for knob, width in (widths or {}).items())


def macs_kind(facts: Mapping[str, Any]) -> tuple[str, float | None]:
    """("measured" | "theoretical", the theoretical MAC count if the facts give a number)."""
    flag = facts.get("macs_theoretical")
    number = None
    if isinstance(flag, (int, float)) and not isinstance(flag, bool) and math.isfinite(flag):
        number = float(flag)
    theoretical = facts.get("macs_kind") == "theoretical" or flag not in (None, False)
    return ("theoretical" if theoretical else "measured"), number


def metric_info(name: str, higher_is_better: bool) -> tuple[str, str, float]:
    """(unit, seed aggregate, ideal value) of a metric from its registered spec.

    Unregistered names fall back to no unit, "mean", and an ideal of 0 (lower is better) or 1.
    """
    from tradeoff_bench.tasks.metrics import metric_spec

    try:
        spec = metric_spec(name)
    except KeyError:
        return "", "mean", 1.0 if higher_is_better else 0.0
    return spec.unit, spec.aggregate, float(spec.ideal)


def board_corpus(record: Record) -> str:
    """The corpus a record's leaderboard is named by. A record of `eval` names the data it was
    evaluated on, the task settings changed from training and the training corpus, so re-scored
    candidates get a table of their own even on a corpus of the same name."""
    if record.source_record is None:
        return record.corpus
    trained = record.train_task_settings or {}
    changed = ", ".join(f"{k}={v}" for k, v in sorted(record.task_settings.items()) if trained.get(k) != v)
    return f"{record.corpus} ({changed + '; ' if changed else ''}models trained on {record.train_corpus})"


def _model_families_apart(frame: pd.DataFrame) -> pd.DataFrame:
    """A task whose records run several model families (task setting `model`, e.g. vad's
    `paper-crnn` and `paper-transformer` in the paper grid) gets one board per family: its
    `corpus` reads `<corpus>, model=<family>`, so a front, a budget or a verdict never compares
    candidates of different models against one full model."""
    models = frame["task_settings"].map(lambda settings: (settings or {}).get("model"))
    several = models.groupby(frame["task"]).transform(lambda m: m.dropna().nunique() > 1)
    split = several & models.notna()
    frame.loc[split, "corpus"] = frame.loc[split, "corpus"] + ", model=" + models[split].astype(str)
    return frame


def axis_cost(record: Record, axis: CostAxis) -> tuple[float | None, str, float | None]:
    """(cost on `axis`, "measured" | "theoretical", the full dense model's value on `axis`)."""
    kind, theoretical = macs_kind(record.facts)
    value = getattr(record, axis.name, None)
    full = record.full_costs.get(axis.name)
    if full is None and axis.name == "macs":
        full = record.full_macs
    if full is None and axis.name == "bops" and record.full_macs:
        full = record.full_macs * 32 * 32  # the full model is float32
    if not axis.theoretical:
        return value, "measured", full
    if theoretical is not None and value is not None and record.macs:
        value = value * theoretical / record.macs
    return value, kind, full


def _row(record: Record, axis: CostAxis) -> dict[str, Any]:
    data = record.to_dict()
    data["corpus"] = board_corpus(record)
    ok = record.status == "ok"
    unit, aggregate, ideal = metric_info(record.primary_metric, record.higher_is_better)
    kind, theoretical = macs_kind(record.facts)
    cost, cost_kind, full = axis_cost(record, axis)
    data.update(
        metric=record.metrics.get(record.primary_metric) if ok else None,
        macs_kind=kind,
        macs_theoretical=theoretical,
        cost=cost if ok else None,
        cost_fraction=cost / full if ok and cost is not None and full else None,
        cost_kind=cost_kind,
        full_cost=full,
        cost_axis=axis.name,
        metric_unit=unit,
        metric_aggregate=aggregate,
        ideal_metric=ideal,
        metric_ci_low=None,
        metric_ci_high=None,
        metric_ci_note="",
    )
    return data
