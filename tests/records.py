"""Hand-made records for the report tests: one ok candidate of a toy board per call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tradeoff_bench.core.records import Record

TRIVIAL = {"mse": 1.0, "eer": 50.0}
"""The reference (trivial-predictor) value of each primary metric the tests use."""


def eer_record(method: str, seed: int, share: float, eer: float, *, full_macs: int, **fields: Any) -> Record:
    """A detection candidate at `share` of the full MACs with test EER `eer`, labelled `x<share>`."""
    return candidate_record(
        method,
        seed,
        int(full_macs * share),
        {"eer": eer},
        full_macs=full_macs,
        primary_metric="eer",
        label=f"x{share}",
        **fields,
    )


def candidate_record(
    method: str,
    seed: int,
    macs: int | None,
    metrics: dict[str, float],
    *,
    full_macs: int,
    overrides: Mapping[str, Any] | None = None,
    **fields: Any,
) -> Record:
    """An ok record of `method` at `seed` costing `macs`: toy defaults, then `fields` (a test file's
    own defaults), then `overrides` (one test's)."""
    chosen = {**fields, **(overrides or {})}
    primary = chosen.get("primary_metric", "mse")
    defaults: dict[str, Any] = dict(
        cell_id=f"{method}-s{seed}",
        task="toy",
        corpus="toy-corpus",
        method=method,
        seed=seed,
        label=f"m{macs}",
        status="ok",
        macs=macs,
        full_macs=full_macs,
        metrics=metrics,
        primary_metric=primary,
        higher_is_better=False,
        reference_metric=TRIVIAL.get(primary),
        cost_unit="example",
    )
    return Record(**{**defaults, **chosen})
