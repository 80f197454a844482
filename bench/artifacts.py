"""Saved candidates: a model's weights and what rebuilds it, in one self-describing file.

A run keeps each `ok` candidate as `models/<record_id>.safetensors`: the state dict, with the
`ModelSpec` (task and its settings, method and its settings, widths, facts, record id, training
corpus) as JSON in the file's metadata. A state dict safetensors cannot hold (a quantised model's
packed int8 parameters) is saved as `models/<record_id>.pt`, `{"spec": JSON, "state_dict": ...}`,
and read back with `torch.load(weights_only=True)`, which runs no pickled code: it rebuilds tensors
and, allowed by name, `torch.ScriptObject`, the packed weights of torch's own int8 kernels (a
dynamic GRU's), which their C++ classes restore.

A model is rebuilt by its method (`Method.build_candidate`: the task's model at the candidate's
widths, or e.g. a quantised one), then its weights are loaded strictly.
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradeoff_bench.bench.errors import ArtifactError
from tradeoff_bench.core.records import Record, SavedModel

if TYPE_CHECKING:
    from torch import nn

    from tradeoff_bench.tasks.base import Task

FORMAT_VERSION = 1
SAFETENSORS, TORCH = ".safetensors", ".pt"
METADATA_KEY = "tradeoff_bench"


@dataclass(frozen=True)
class ModelSpec:
    """Everything besides the weights that a saved candidate needs to be rebuilt and named."""

    record_id: str
    task: str
    task_settings: dict[str, Any]
    method: str
    settings: dict[str, Any]
    widths: dict[str, int]
    facts: dict[str, Any] = field(default_factory=dict)
    corpus: str = ""
    """The corpus the model was trained on."""
    format_version: int = FORMAT_VERSION

    @classmethod
    def of(cls, record: Record) -> ModelSpec:
        return cls(
            record.record_id,
            record.task,
            dict(record.task_settings),
            record.method,
            dict(record.settings),
            dict(record.widths),
            dict(record.facts),
            record.corpus,
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, where: Path) -> ModelSpec:
        try:
            data = json.loads(text)
            version = data.get("format_version")
            if not isinstance(version, int) or version > FORMAT_VERSION:
                raise ArtifactError(
                    f"{where}: model file format {version!r} is newer than this suite's "
                    f"{FORMAT_VERSION}: upgrade tradeoff-bench"
                )
            return cls(**data)
        except (ValueError, TypeError, AttributeError) as err:
            raise ArtifactError(f"{where}: unreadable model description ({err})") from None


@dataclass
class LoadedModel:
    """A saved candidate, rebuilt: its model (eval mode, on CPU), the task it runs on, its spec."""

    model: nn.Module
    task: Task
    spec: ModelSpec


def save_model(model: nn.Module, spec: ModelSpec) -> SavedModel:
    """The bytes of `model`'s model file (safetensors where the state dict allows it)."""
    import torch

    state = model.state_dict()
    if all(isinstance(v, torch.Tensor) and not v.is_quantized for v in state.values()):
        from safetensors.torch import save

        tensors = {name: value.detach().cpu().clone().contiguous() for name, value in state.items()}
        return SavedModel(SAFETENSORS, save(tensors, metadata={METADATA_KEY: spec.to_json()}))
    buffer = io.BytesIO()
    torch.save({"spec": spec.to_json(), "state_dict": state}, buffer)
    return SavedModel(TORCH, buffer.getvalue())


def read_model_file(path: str | Path) -> tuple[ModelSpec, dict[str, Any]]:
    """(spec, state dict) of a model file; ArtifactError, naming the file, when it is not one."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path}: no such model file")
    try:
        if path.suffix == SAFETENSORS:
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as handle:
                text = (handle.metadata() or {}).get(METADATA_KEY)
                state = {name: handle.get_tensor(name) for name in handle.keys()}
        else:
            with torch.serialization.safe_globals([torch.ScriptObject]), warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "TypedStorage is deprecated", from torch itself
                saved = torch.load(path, map_location="cpu", weights_only=True)
            text, state = saved.get("spec"), saved.get("state_dict")
    except Exception as err:  # a truncated file, another format, a pickle with code in it
        first = (str(err).strip().splitlines() or [""])[0]
        raise ArtifactError(f"{path}: not a tradeoff-bench model file ({type(err).__name__}: {first})") from None
    if not isinstance(text, str) or not isinstance(state, dict):
        raise ArtifactError(f"{path}: not a tradeoff-bench model file (no model description)")
    return ModelSpec.from_json(text, path), state


def load_model(path: str | Path, *, task: Task | None = None) -> LoadedModel:
    """Rebuild the saved candidate at `path` for `task` (e.g. on other data; settings that change
    the model's shape make it fail to load), or for its task as it was trained."""
    from tradeoff_bench.core.registry import configure
    from tradeoff_bench.methods import METHODS
    from tradeoff_bench.tasks import TASKS

    spec, state = read_model_file(path)
    if task is None:
        task = configure(TASKS.get(spec.task), spec.task_settings, f"task {spec.task!r}")
    elif task.name != spec.task:
        raise ArtifactError(f"{path}: a model of task {spec.task!r}, not {task.name!r}")
    method = configure(METHODS.get(spec.method), spec.settings, f"method {spec.method!r}")
    model = method.build_candidate(task, spec.widths, spec.facts)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[-1].strip()
        raise ArtifactError(
            f"{path}: the saved weights do not fit the {spec.task} model with these settings ({first})"
        ) from None
    return LoadedModel(model.eval(), task, spec)


def is_quantized(model: nn.Module) -> bool:
    """Whether `model` runs quantised modules (int8 kernels)."""
    return any(type(m).__module__.startswith("torch.ao.nn.quantized") for m in model.modules())
