"""A candidate's training history (`facts["history"]`) as the `train.csv` kept in its outputs folder."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

TRAIN_CSV = "train.csv"


def history_csv(history: Sequence[Mapping[str, Any]]) -> str:
    """One row per epoch: `phase` (a new one starts where the epoch count restarts: pre-training,
    then each fine-tuning), then the entry's values, nested ones (widths) as `key.knob` columns."""
    rows, phase, last = [], 0, None
    for entry in history:
        if last is None or entry["epoch"] <= last:
            phase += 1
        last = entry["epoch"]
        rows.append({"phase": phase, **_flat(entry)})
    columns = list(dict.fromkeys(column for row in rows for column in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _flat(entry: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in entry.items():
        if isinstance(value, Mapping):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
