"""The per-candidate measurement: parameters, bytes, peak activation memory and the task's metrics."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tradeoff_bench.bench.measure import (
    Measurement,
    count_params,
    full_costs,
    measure_model,
    peak_activation_bytes,
    state_bytes,
)
from tradeoff_bench.tasks.synthetic import SyntheticTask


@pytest.fixture
def task() -> SyntheticTask:
    return SyntheticTask(n_train=64, n_val=32, n_test=64, epochs=1)


def mlp(width: int) -> nn.Module:
    return nn.Sequential(nn.Linear(20, width), nn.ReLU(), nn.Linear(width, 4))


class NaNOutput(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(20, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) * float("nan")


@pytest.mark.parametrize("width", [1, 5, 32])
def test_params_are_exact(width: int) -> None:
    assert count_params(mlp(width)) == 20 * width + width + width * 4 + 4


def test_shared_and_frozen_parameters_count_once() -> None:
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, shared, nn.Linear(3, 2).requires_grad_(False))
    assert count_params(model) == 12 + 8


def test_bytes_grow_with_width_and_hold_the_weights() -> None:
    sizes = [state_bytes(mlp(width)) for width in (4, 16, 64)]
    assert sizes == sorted(sizes) and len(set(sizes)) == 3
    for width, size in zip((4, 16, 64), sizes):
        assert size >= 4 * count_params(mlp(width))  # float32 storage at least


@pytest.mark.parametrize(("batch", "width"), [(8, 32), (1, 256)])
def test_peak_activation_of_a_two_layer_mlp_by_hand(batch: int, width: int) -> None:
    """Linear(20, W) -> ReLU -> Linear(W, 4) on a (B, 20) input: the first Linear's output (B x W
    float32) is still held while ReLU writes its own (B x W); it is freed before the second Linear
    writes B x 4. Peak = 2 x B x W x 4 bytes (the input and weights existed before the forward)."""
    model = mlp(width).train()
    assert peak_activation_bytes(model, torch.zeros(batch, 20)) == 2 * batch * width * 4
    assert model.training


def test_peak_activation_counts_an_in_place_relu_once() -> None:
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(inplace=True), nn.Linear(64, 4))
    assert peak_activation_bytes(model, torch.zeros(8, 20)) == 8 * 64 * 4 + 8 * 4 * 4


def test_full_costs_are_those_of_the_full_dense_model(task: SyntheticTask) -> None:
    full = full_costs(task)
    model = task.build_model()
    assert full["bops"] == full["macs"] * 1024
    assert full["weight_bytes"] == 4 * count_params(model)
    assert full["peak_activation_bytes"] > 0


def test_measure_model_on_synthetic_task(task: SyntheticTask) -> None:
    torch.manual_seed(0)
    width = 8
    model = task.build_model({"hidden1": width}).train()
    model[2].eval()  # a submodule in its own mode keeps it
    result = measure_model(model, task)
    assert [m.training for m in model] == [True, True, False, True]
    assert isinstance(result, Measurement)
    assert result.metrics == task.evaluate(model, "test")
    assert set(result.metrics) >= {task.primary_metric}
    assert result.macs == 20 * width + width * 4
    assert result.params == count_params(model) == 20 * width + width + width * 4 + 4
    assert result.bytes == state_bytes(model)
    assert result.bops == result.macs * 32 * 32
    assert result.weight_bytes == 4 * result.params
    assert result.peak_activation_bytes == peak_activation_bytes(model, task.example_input()) > 0
    assert result.to_dict()["macs"] == result.macs
    with pytest.raises(AttributeError):
        result.macs = 0  # type: ignore[misc]


def test_metrics_and_outputs_come_from_where_the_model_is_and_costs_from_cpu(
    task: SyntheticTask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cell on a GPU evaluates there: the model goes to CPU only after evaluate and outputs."""
    events: list[str] = []
    model = mlp(4)
    to = model.to
    monkeypatch.setattr(model, "to", lambda *args, **kwargs: events.append("to") or to(*args, **kwargs))
    evaluate = task.evaluate
    monkeypatch.setattr(task, "evaluate", lambda m, split="test": events.append("evaluate") or evaluate(m, split))
    monkeypatch.setattr(task, "outputs", lambda m: events.append("outputs") or {"scores.txt": "1.0\n"})
    result = measure_model(model, task)
    assert events == ["evaluate", "outputs", "to"]
    assert result.outputs == {"scores.txt": "1.0\n"}


def test_nan_outputs_raise(task: SyntheticTask) -> None:
    with pytest.raises(ValueError, match="mse"):
        measure_model(NaNOutput(), task)


def test_missing_primary_metric_raises(task: SyntheticTask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(task, "evaluate", lambda model, split="test": {"other": 1.0})
    with pytest.raises(ValueError, match="primary metric"):
        measure_model(mlp(4), task)
