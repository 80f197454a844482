"""`tradeoff-bench export`: every model family runs in onnxruntime as in torch, within 1e-4."""

from pathlib import Path

import numpy as np
import pytest
import torch

from tradeoff_bench.bench.artifacts import ModelSpec, save_model
from tradeoff_bench.bench.cli import EXIT_ERROR, main
from tradeoff_bench.core.registry import configure
from tradeoff_bench.methods.quantization import _dynamic
from tradeoff_bench.tasks import TASKS

FAMILIES = [
    pytest.param(task, i, id=f"{task}-{variant.get('model', 'default')}")
    for task in TASKS.names()
    for i, variant in enumerate(TASKS.get(task).tiny_variants)
]


def saved(tmp_path: Path, task_name: str, variant: int, *, quantized: bool = False) -> tuple[Path, torch.nn.Module]:
    task = configure(TASKS.get(task_name), TASKS.get(task_name).tiny_variants[variant], task_name)
    torch.manual_seed(0)
    model = task.build_model().eval()
    method, facts = ("quantization", {"mode": "dynamic"}) if quantized else ("dense", {})
    if quantized:
        model = _dynamic(model)
    settings = configure(__import__("methods").METHODS.get(method), {}, method).settings()
    spec = ModelSpec("r", task_name, task.settings(), method, settings, dict(task.knobs), facts)
    file = save_model(model, spec)
    path = tmp_path / f"model{file.suffix}"
    path.write_bytes(file.data)
    return path, model


@pytest.mark.parametrize(("task", "variant"), FAMILIES)
def test_onnxruntime_gives_the_torch_outputs(tmp_path: Path, task: str, variant: int) -> None:
    ort = pytest.importorskip("onnxruntime")
    path, model = saved(tmp_path, task, variant)
    assert main(["export", str(path), "--to", str(tmp_path / "model.onnx")]) == 0
    task_obj = configure(TASKS.get(task), TASKS.get(task).tiny_variants[variant], task)
    x = torch.cat([task_obj.example_input(), torch.randn_like(task_obj.example_input()).abs()])  # a batch of 2
    with torch.no_grad():
        expected = model(x).numpy()
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    [got] = session.run(None, {"input": x.numpy()})
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1e-4
    inputs, _ = task_obj.variable_axes()
    for axis in set(inputs) - {0}:  # any length along a time axis, not only the example's
        longer = torch.cat([x, x.flip(axis)], dim=axis)
        with torch.no_grad():
            expected = model(longer).numpy()
        [got] = session.run(None, {"input": longer.numpy()})
        assert got.shape == expected.shape and np.abs(got - expected).max() <= 1e-4
    metadata = session.get_modelmeta().custom_metadata_map
    assert metadata["task"] == task and all(f"input.{k}" in metadata for k in task_obj.input_description())


def test_a_quantised_candidate_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = saved(tmp_path, "synthetic", 0, quantized=True)
    assert main(["export", str(path), "--to", str(tmp_path / "q.onnx")]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "quantised candidate (dynamic)" in err
    assert not (tmp_path / "q.onnx").exists()
