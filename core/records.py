"""The result record: one JSON object per candidate, defined once for writer and reader.

Units are in the names: `macs` (fvcore multiply-accumulates on the task's example input, i.e. what
fvcore calls "flops"), `bops` (bit-operations), `params`, `bytes`, `weight_bytes`,
`peak_activation_bytes`, `latency_ms`, `train_seconds`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tradeoff_bench.core.errors import UserError

SCHEMA_VERSION = 1
"""The version of the record schema this suite writes; a run folder records the newest it holds
(`bench.store`). Raise it when a field changes meaning or goes, and add the step in `MIGRATIONS`."""

MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}
"""Version v -> the step turning a record of schema v into one of v + 1 (renamed or dropped fields).
A record of an older schema is read through the steps; without a step it is read as it is (the
fields it lacks take their defaults)."""


class SchemaError(UserError, ValueError):
    """A record file that this version of the suite cannot read."""


class NewerSchemaError(SchemaError):
    """A record or run folder written by a newer tradeoff-bench: never read as damaged, never rewritten."""


def newer_schema(version: int, what: str) -> NewerSchemaError:
    return NewerSchemaError(
        f"{what} record schema {version}, newer than this suite's {SCHEMA_VERSION}: "
        "upgrade tradeoff-bench to use it (nothing was changed)"
    )


Attachment = str | bytes
"""A file a task keeps per candidate: text, or bytes (e.g. `scores.npz`)."""


@dataclass(frozen=True)
class SavedModel:
    """A serialised candidate (`bench.artifacts`): the file's bytes and its suffix."""

    suffix: str
    data: bytes = field(repr=False)


@dataclass
class Record:
    """One measured candidate of one grid cell (or the failure of that cell)."""

    cell_id: str
    task: str
    corpus: str
    method: str
    seed: int
    label: str
    status: str  # "ok" or "failed"
    settings: dict[str, Any] = field(default_factory=dict)
    """The method's settings, defaults filled in (requested values)."""
    task_settings: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    macs: int | None = None
    """Dense MACs of the realised model on one example input, counted by fvcore."""
    full_macs: int | None = None
    """MACs of the task's full-width model: the denominator of `macs_fraction`."""
    cost_unit: str = ""
    """What one example input is (e.g. 'second of audio'); MACs are per that unit."""
    corpus_notes: list[str] = field(default_factory=list)
    """What the data lacks or limits (a subset, a metric it cannot give): `Task.corpus_notes`."""
    corpus_version: str | None = None
    """The generator and version that made a generated corpus (`Task.corpus_version`, e.g.
    "vad-mini 8"); None (not written) for a real corpus, and in records made before it was kept."""
    params: int | None = None
    bytes: int | None = None
    """Size of the saved state (torch.save of the state dict)."""
    bops: int | None = None
    """Bit-operations on one example input: each MAC x its weight bits x its activation bits
    (float32: 32 x 32; an int8 module's: 8 x 8), by `core.costs`."""
    weight_bytes: int | None = None
    """Deployable weights: int8 values at 1 byte + scale/zero point, float values at 4 (`core.costs`)."""
    peak_activation_bytes: int | None = None
    """Largest live memory the CPU allocator holds during one forward on the example input."""
    full_costs: dict[str, float] = field(default_factory=dict)
    """Each cost axis of the task's full-width dense model (the budgets' denominators), e.g.
    `{"macs": ..., "bops": ..., "weight_bytes": ..., "peak_activation_bytes": ...}`."""
    latency_ms: float | None = None
    """Median single-thread eager-PyTorch CPU latency of one example input, timed by the latency phase
    (`bench.latency`, joined from `latency/<record_id>.json`), not while cells train."""
    latency_ci_low_ms: float | None = None
    latency_ci_high_ms: float | None = None
    """95 % interval of that median."""
    onnx_latency_ms: float | None = None
    """The same in ONNX Runtime (single thread), for a candidate that exports to ONNX."""
    onnx_latency_ci_low_ms: float | None = None
    onnx_latency_ci_high_ms: float | None = None
    latency_notes: dict[str, str] = field(default_factory=dict)
    """Why a latency is missing or what it times (e.g. `{"onnx": "int8 models do not export"}`)."""
    metrics: dict[str, float] = field(default_factory=dict)
    operating_point: dict[str, float] = field(default_factory=dict)
    """Detection tasks: `dev_threshold` (the EER threshold on dev), `dev_eer`, and on test at that
    threshold `test_miss_at_dev_threshold`, `test_false_alarm_at_dev_threshold` and their mean
    `test_error_at_dev_threshold` (%): the operating point the test-set EER hides."""
    primary_metric: str = ""
    higher_is_better: bool = False
    quality_target: dict[str, Any] = field(default_factory=dict)
    """The task's quality target (`tasks.targets.QualityTarget.to_dict()`): `target.md`'s default."""
    reference_metric: float | None = None
    """Primary metric of a trivial predictor (the hypervolume reference)."""
    train_seconds: float | None = None
    """Training time behind this candidate (shared training counted for each candidate)."""
    train_epochs: float | None = None
    cell_seconds: float | None = None
    """Wall time of the whole cell's method run: what all its candidates cost together."""
    widths: dict[str, int] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    """Files kept for this candidate (`Task.outputs`), as paths relative to the run directory."""
    model_file: str | None = None
    """The candidate's saved model (`bench.artifacts`: weights and what rebuilds them), relative to
    the run directory; None when models were not saved (`--no-save-models`) or the record has none."""
    source_record: str | None = None
    """For a record of `tradeoff-bench eval`: the training run's record whose saved model it re-scored."""
    train_corpus: str | None = None
    """For a record of `eval`: the corpus the model was trained on (`corpus` is the one evaluated on)."""
    train_task_settings: dict[str, Any] | None = None
    """For a record of `eval`: the task settings the model was trained with."""
    attachments: dict[str, Attachment] = field(default_factory=dict, repr=False, metadata={"transient": True})
    """`{file name: text or bytes}` from `Task.outputs`, on its way from the cell to the store, which writes
    the files and lists them in `outputs`; never part of the JSON record."""
    weights: SavedModel | None = field(default=None, repr=False, metadata={"transient": True})
    """The candidate's saved model on its way from the cell to the store, which writes it to
    `models/` and names it in `model_file`; never part of the JSON record."""
    schema_version: int = field(default_factory=lambda: SCHEMA_VERSION)

    @property
    def record_id(self) -> str:
        return f"{self.cell_id}-{slug(self.label)}"

    @property
    def macs_fraction(self) -> float | None:
        if self.macs is None or not self.full_macs:
            return None
        return self.macs / self.full_macs

    def to_dict(self) -> dict[str, Any]:
        stored = dataclasses.asdict(dataclasses.replace(self, attachments={}, weights=None))  # no copy of the texts
        data = {name: value for name, value in stored.items() if name not in TRANSIENT}
        if data["corpus_version"] is None:  # a real corpus: written as older records were, byte for byte
            del data["corpus_version"]
        data["record_id"] = self.record_id
        data["macs_fraction"] = self.macs_fraction
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        version = data.get("schema_version")
        if not isinstance(version, int):
            raise SchemaError("record has no schema_version")
        if version > SCHEMA_VERSION:
            raise newer_schema(version, "written with")
        for step in range(version, SCHEMA_VERSION):
            if step in MIGRATIONS:
                data = MIGRATIONS[step](dict(data))
        names = {f.name for f in dataclasses.fields(cls)}
        missing = {
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        } - set(data)
        if missing:
            raise SchemaError(f"record lacks fields: {', '.join(sorted(missing))}")
        return cls(**{k: v for k, v in data.items() if k in names})


TRANSIENT: frozenset[str] = frozenset(f.name for f in dataclasses.fields(Record) if f.metadata.get("transient"))
"""Fields that travel with a record in memory but are not part of its JSON."""

COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Record) if f.name not in TRANSIENT) + (
    "record_id",
    "macs_fraction",
)
"""Columns of a record as a flat table row (nested dicts stay dicts)."""


def slug(text: str) -> str:
    """A file-name-safe form of a candidate label."""
    safe = "".join(c if c.isalnum() or c in "._=+" else "_" for c in text)
    return safe.strip("_") or "model"
