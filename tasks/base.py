"""The Task contract: data, a model family with named width knobs, the loss and the metrics.

A task is a dataclass whose fields are its user settings (`tradeoff-bench run --task T --set k=v`).
Its model family exposes *width knobs*: named feature dimensions (hidden units, channels, mel bands)
whose size can be chosen per model. A width-learning or pruning method treats a knob through two
hooks of `build_model`: `widths` picks the physical size of each knob, and `gate` inserts a module
where a knob's features leave their producer (after its activation), before every consumer. The
channels of a knob are in priority order: a model with width `w` keeps channels `[0, w)`, so the
model at width `w` is the full model with its parameters sliced to the leading `w` channels, and
parameter names do not depend on widths or gates (a gate sits in a slot of its own). A gate must be
exact: with channels ≥ w gated off, the full model computes the model at width w (a gate on an RNN's
hidden size acts inside its recurrence: `tasks.rnn.gated_rnn`; tests/contract/test_gating.py).
"""

from __future__ import annotations

import dataclasses
import itertools
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch
from torch import nn

from tradeoff_bench.core.registry import SettingError, did_you_mean
from tradeoff_bench.tasks import TASKS as TASKS  # re-exported: tasks register through this module
from tradeoff_bench.tasks.metrics import ItemScores, metric_spec
from tradeoff_bench.tasks.targets import DEFAULT_TARGET, QualityTarget
from tradeoff_bench.tasks.user_model import UserFamily

GateFactory = Callable[[str, int, int], nn.Module]
"""(knob name, width of the knob, channel axis of the tensor it sees) -> module applied there.

The channel axis is given as an index into the gated tensor (-1 after a Linear or an RNN, 1 after
a convolution), so a gate can mask, blend or measure channels without knowing the layer."""

Batch = tuple[torch.Tensor, torch.Tensor]
T = TypeVar("T")


@dataclass(frozen=True)
class DataIdentity:
    """What a split is made of. `disjoint`: named sets (speakers, recordings) that evaluation data must
    not share with training data; `same`: named values (a synthetic teacher) that must be equal for
    an evaluation to measure the task the model was trained for."""

    disjoint: Mapping[str, frozenset[str]] = field(default_factory=dict)
    same: Mapping[str, str] = field(default_factory=dict)

    def conflicts(self, trained: DataIdentity) -> list[str]:
        """What this (evaluation) identity shares with, or changes from, the `trained` one, in words."""
        found = []
        for kind, names in self.disjoint.items():
            shared = sorted(names & trained.disjoint.get(kind, frozenset()))
            if shared:
                listed = ", ".join(shared[:5]) + (" ..." if len(shared) > 5 else "")
                found.append(f"{len(shared)} of its {len(names)} {kind} were in training ({listed})")
        for kind, value in self.same.items():
            if kind in trained.same and trained.same[kind] != value:
                found.append(f"its {kind} is {value}, the model was trained for {trained.same[kind]}")
        return found

    def union(self, other: DataIdentity) -> DataIdentity:
        kinds = set(self.disjoint) | set(other.disjoint)
        return DataIdentity(
            {k: self.disjoint.get(k, frozenset()) | other.disjoint.get(k, frozenset()) for k in kinds},
            {**other.same, **self.same},
        )


@dataclass(frozen=True)
class TrainRecipe:
    """A task's default training budget; methods share it so comparisons are fair."""

    epochs: int
    batch_size: int
    lr: float
    weight_decay: float = 0.0


@dataclass(frozen=True)
class Peer:
    """A reference system shown beside the methods as a fixed point; the grid does not train it.

    `origin` says whether its metrics were measured here on this task's test split, or are a
    published number (e.g. a paper's result on the real corpus), which reports label as such.
    """

    label: str
    metrics: dict[str, float]
    origin: str = "measured"  # "measured" | "published"
    macs: int | None = None
    macs_source: str = ""
    """How `macs` was obtained ("fvcore", "analytic: ...", a citation); empty when unknown."""
    params: int | None = None
    note: str = ""


def no_gate(knob: str, width: int, dim: int) -> nn.Module:
    return nn.Identity()


@dataclass
class Task(ABC):
    """Base class of every task; subclasses are dataclasses registered in `TASKS`."""

    name: ClassVar[str]
    primary_metric: ClassVar[str]
    description: ClassVar[str] = ""
    tiny_variants: ClassVar[tuple[dict[str, Any], ...]] = ({},)
    """Settings of small variants (seconds to run) that the contract tests exercise."""
    model_families: ClassVar[tuple[str, ...]] = ()
    """The built-in values of the task's `model` setting (the first is the default); any other value
    names a user's builder (`tasks.user_model`). Empty: the task takes no model of a user's."""
    quality_target: ClassVar[QualityTarget] = DEFAULT_TARGET
    """How close to the full dense model's primary metric a candidate must stay (`target.md`)."""

    # --- identity -------------------------------------------------------------------------
    @property
    @abstractmethod
    def corpus(self) -> str:
        """Name of the data the results come from (a generated proxy is never named as the real corpus)."""

    def settings(self) -> dict[str, Any]:
        """The task's user settings as JSON-native values."""
        return _json_native(dataclasses.asdict(self))

    @property
    def higher_is_better(self) -> bool:
        return metric_spec(self.primary_metric).higher_is_better

    # --- data -----------------------------------------------------------------------------
    def prepare(self) -> None:
        """Make the data ready (generate or validate it); idempotent. Default: nothing to do."""

    @abstractmethod
    def batches(self, split: str, batch_size: int, *, shuffle: bool = False, seed: int = 0) -> Iterator[Batch]:
        """Iterate (input, target) batches of `split` in {'train', 'val', 'test'}."""

    @property
    @abstractmethod
    def recipe(self) -> TrainRecipe:
        """Default training budget for models of this task."""

    # --- model family -----------------------------------------------------------------------
    @property
    @abstractmethod
    def knobs(self) -> dict[str, int]:
        """Width knob name -> full (maximum) width."""

    @abstractmethod
    def _build(self, widths: dict[str, int], gate: GateFactory) -> nn.Module:
        """Build the model at resolved widths, with `gate(knob, width, dim)` at every knob's site."""

    def build_model(self, widths: Mapping[str, int] | None = None, gate: GateFactory | None = None) -> nn.Module:
        """A freshly initialised model; unspecified knobs take their full width."""
        if self.user_family is not None:
            return self.user_family.build(self.resolve_widths(widths), gate)
        return self._build(self.resolve_widths(widths), gate or no_gate)

    @cached_property
    def user_family(self) -> UserFamily | None:
        """The user's model when the task's `model` setting names a builder rather than one of its
        `model_families` (`tasks.user_model`: knobs found automatically), else None."""
        model = self.builder_of({"model": getattr(self, "model", None)})
        if model is None:
            return None
        reference = dataclasses.replace(self, model=self.model_families[0]).build_model()  # type: ignore[call-arg]
        return UserFamily(model, self.example_input(), reference)

    @classmethod
    def builder_of(cls, settings: Mapping[str, Any]) -> str | None:
        """The user's builder that the `model` of task `settings` names, or None where it names one of
        the task's `model_families` (or the task takes no model of a user's)."""
        model = settings.get("model")
        return model if cls.model_families and isinstance(model, str) and model not in cls.model_families else None

    def user_knobs(self) -> dict[str, int] | None:
        """The knobs of the user's model (name -> full width), or None for a built-in family: a
        task's `knobs` starts with it."""
        family = self.user_family
        return None if family is None else {name: knob.width for name, knob in family.knobs.items()}

    @property
    def ordered_knobs(self) -> frozenset[str]:
        """Knobs whose channel order carries meaning (a convolution slides along them, e.g. mel bands
        as the height of a 2-D convolution): a method may cut their trailing channels, never reorder
        them or drop interior ones, which would change what the layer sees. Default: none."""
        return frozenset()

    def check_knobs(self, names: Iterable[str]) -> None:
        """A SettingError, with the closest knob, for a name that is not one of this task's knobs."""
        full = self.knobs
        for knob in names:
            if knob not in full:
                raise SettingError(
                    f"Task {self.name!r} has no width knob {knob!r}.{did_you_mean(knob, list(full))} "
                    f"Knobs: {', '.join(full)}"
                )

    def resolve_widths(self, widths: Mapping[str, int] | None) -> dict[str, int]:
        full = self.knobs
        resolved = dict(full)
        self.check_knobs(widths or {})
        for knob, width in (widths or {}).items():
            if not 1 <= int(width) <= full[knob]:
                raise SettingError(f"Width {knob}={width} is outside [1, {full[knob]}]")
            resolved[knob] = int(width)
        return resolved

    @abstractmethod
    def example_input(self) -> torch.Tensor:
        """One input of batch size 1 that fixes what one MAC count means (e.g. one second of audio)."""

    def data_identity(self, split: str) -> DataIdentity | None:
        """What `split` is made of, for `eval` to tell whether evaluation data overlap the data a
        model was trained on; None where the task cannot say (no check is made)."""
        return None

    def variable_axes(self) -> tuple[dict[int, str], dict[int, str]]:
        """Named axes of the model's (input, output) whose size may vary (ONNX export's dynamic axes):
        the batch, and a time axis where the model runs on any length. Default: the batch alone."""
        return {0: "batch"}, {0: "batch"}

    def input_description(self) -> dict[str, str]:
        """How raw data becomes the model's input (sample rate, window, hop, feature), for a deployed
        model's metadata; empty where the input is not derived from audio."""
        return {}

    @property
    def cost_unit(self) -> str:
        """What one `example_input` is, for report captions."""
        return "example"

    # --- objective and metrics ----------------------------------------------------------------
    @abstractmethod
    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor: ...

    @abstractmethod
    def evaluate(self, model: nn.Module, split: str = "test") -> dict[str, float]:
        """Metrics of `model` on `split`; must include `primary_metric`."""

    def dev_scores(self, model: nn.Module) -> tuple[float, float]:
        """The primary metric and the mean task loss of `model` (in eval mode) on the val split: the
        two keys of every method's epoch selection, computed each epoch. Default: `evaluate`, then a
        second pass over the val batches for the loss; a task whose scoring pass sees every val target
        overrides it to get both from one pass."""
        value = self.evaluate(model, "val")[self.primary_metric]
        total, count, device = 0.0, 0, model_device(model)
        with torch.no_grad():
            for x, y in self.batches("val", self.recipe.batch_size):
                total += self.loss(model(x.to(device)), y.to(device)).item() * len(x)
                count += len(x)
        return value, total / max(1, count)

    @property
    @abstractmethod
    def reference_metric(self) -> float:
        """Primary metric of a trivial predictor: the hypervolume reference point."""

    def corpus_version(self) -> str | None:
        """The generator and version that make this task's data, for a corpus the suite generates
        (e.g. "vad-mini 8"); None for a real corpus, or data that depend on the code alone. Results
        on two versions are not one board's: `run --continue-from` runs again a published cell made
        on another version."""
        return None

    def corpus_notes(self) -> list[str]:
        """What a reader of the results must know about the data: a subset of the corpus, a metric
        it cannot give (e.g. no t-DCF without ASV scores). Stated in every record and leaderboard."""
        return []

    def item_scores(self, model: nn.Module, split: str = "test") -> ItemScores | None:
        """`model`'s per-item scores on `split` (tasks.metrics.ItemScores), from which the primary
        metric's `from_scores` gives what `evaluate` reports, so a report can resample whole test
        items. Default: None (the task keeps none)."""
        return None

    def outputs(self, model: nn.Module) -> dict[str, str | bytes]:
        """Files to keep beside the record of an evaluated model, `{file name: text or bytes}`.
        Default: the per-item scores of the test split as `scores.npz`, where the task has them;
        a task may add its field's own files (e.g. an official score file)."""
        scores = self.item_scores(model, "test")
        return {} if scores is None else {ItemScores.FILE: scores.to_bytes()}

    def predict(self, model: nn.Module, inputs: Sequence[Path], out_dir: Path) -> list[Path]:
        """Run `model` on the audio files (or folders of them) `inputs` and write its predictions
        under `out_dir` in the field's own formats, returning the files written; nothing is written
        when an input cannot be used (`tasks.audio.AudioError`). Default: the task does not predict."""
        raise NotImplementedError(f"task {self.name!r} does not predict on audio files")

    def peers(self) -> list[Peer]:
        """Reference systems to show beside the methods (measured on the test split, or published).

        Default: none. The grid evaluates them once per task configuration, not per seed."""
        return []


class LastOutputs:
    """The outputs of the last model run over a split, reused while that model's parameters and
    buffers are unchanged (same storage, no in-place update): evaluating a model and keeping its
    per-item scores then runs it over the split once."""

    def __init__(self) -> None:
        self._last: tuple[weakref.ref, tuple, Any] | None = None

    def get(self, model: nn.Module, split: str, compute: Callable[[], T]) -> T:
        key = (split, _state(model))
        if self._last is not None and self._last[0]() is model and self._last[1] == key:
            return self._last[2]
        value = compute()
        self._last = (weakref.ref(model), key, value)
        return value


def _state(model: nn.Module) -> tuple[tuple[int, int], ...]:
    """Where each parameter and buffer lives and how often it was changed in place."""
    return tuple((t.data_ptr(), t._version) for t in itertools.chain(model.parameters(), model.buffers()))


def _json_native(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_native(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_native(v) for v in value]
    return value


def model_device(model: nn.Module) -> torch.device:
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return torch.device("cpu")
