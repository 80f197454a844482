"""`tradeoff-bench predict` and `export`: a saved candidate on audio files, or as an ONNX graph."""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Sequence
from pathlib import Path

from tradeoff_bench.bench.artifacts import is_quantized, load_model
from tradeoff_bench.bench.errors import ArtifactError
from tradeoff_bench.bench.files import atomic_write


def predict(model_path: Path, inputs: Sequence[Path], out_dir: Path, task: str | None = None) -> list[Path]:
    """Run the saved candidate on audio files through its task's `Task.predict`; the files written."""
    from tradeoff_bench.tasks.base import Task

    loaded = load_model(model_path)
    if task is not None and loaded.spec.task != task:
        raise ArtifactError(f"{model_path}: a model of task {loaded.spec.task!r}, not {task!r}")
    if type(loaded.task).predict is Task.predict:
        raise ArtifactError(f"{model_path}: a model of task {loaded.spec.task!r}, which does not predict on audio")
    return loaded.task.predict(loaded.model, inputs, out_dir)


def export_onnx(model_path: Path, out: Path) -> Path:
    """Write the saved candidate as an ONNX graph (opset of torch's TorchScript exporter): a batch of
    the task's inputs, any length along its variable axes (vad: any number of frames), with the front
    end that makes the input (sample rate, window, hop, feature) and the candidate's identity in the
    graph's metadata; quantised candidates are refused."""
    import torch

    loaded = load_model(model_path)
    if is_quantized(loaded.model):
        mode = loaded.spec.facts.get("mode", "int8")
        raise ArtifactError(
            f"{model_path}: a quantised candidate ({mode}); torch.ao int8 models do not export "
            "to ONNX: export a float candidate"
        )
    try:
        import onnx  # what torch.onnx.export needs, and where the metadata goes
    except ImportError:
        raise ArtifactError(
            "export needs the onnx extra: `make setup` installs it in .venv (or `uv sync --extra dev`)"
        ) from None
    inputs, outputs = loaded.task.variable_axes()
    buffer = io.BytesIO()  # in memory first: a full disk fails as an OSError naming `out`, not inside onnx
    with warnings.catch_warnings():  # the tracer's notes on shape checks it turns into constants
        warnings.simplefilter("ignore")
        torch.onnx.export(
            loaded.model,
            (loaded.task.example_input(),),
            buffer,  # type: ignore[arg-type]  # the TorchScript exporter takes a file object too
            dynamo=False,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": inputs, "output": outputs},
        )
    graph = onnx.load_from_string(buffer.getvalue())
    spec = loaded.spec
    metadata = {
        "task": spec.task,
        "record_id": spec.record_id,
        "corpus": spec.corpus,
        "method": spec.method,
        "widths": json.dumps(spec.widths, sort_keys=True),
        **{f"input.{key}": value for key, value in loaded.task.input_description().items()},
    }
    onnx.helper.set_model_props(graph, metadata)
    atomic_write(out, graph.SerializeToString())
    return out
