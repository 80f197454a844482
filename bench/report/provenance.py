"""Where a board's numbers come from: commits, library versions and hardware, summarised over its records."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

FIELDS: tuple[tuple[str, str], ...] = (
    ("cpu", "CPU"),
    ("cpu_count", "CPU cores"),
    ("device", "device"),
    ("threads", "torch threads"),
    ("platform", "platform"),
)


def provenance_rows(board: pd.DataFrame) -> list[tuple[str, str]]:
    """(what, values) pairs over the board's records: every distinct value, sorted and joined, so a
    board gathered from several commits or machines says so. Missing facts are left out."""
    found = [p or {} for p in board["provenance"]]
    commits = _join(f"{p['commit'][:12]}{' (dirty)' if p.get('dirty') else ''}" for p in found if p.get("commit"))
    times = sorted(str(p["time_utc"]) for p in found if p.get("time_utc"))
    rows = [("commit", commits)]
    if times:
        rows.append(("recorded (UTC)", times[0] if times[0] == times[-1] else f"{times[0]} to {times[-1]}"))
    rows += [(label, _join(p.get(key) for p in found)) for key, label in FIELDS]
    packages = sorted({name for p in found for name in (p.get("versions") or {})})
    rows += [(name, _join((p.get("versions") or {}).get(name) for p in found)) for name in packages]
    return [(what, values) for what, values in rows if values]


def _join(values: Iterable[Any]) -> str:
    return ", ".join(sorted({str(v) for v in values if v not in (None, "")}))
