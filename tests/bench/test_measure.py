"""The per-candidate measurement: parameters, bytes, latency plumbing and the task's metrics."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from tradeoff_bench.bench.measure import Measurement, count_params, latency_ms, measure_model, state_bytes
from tradeoff_bench.tasks.synthetic import SyntheticTask


@pytest.fixture
def task() -> SyntheticTask:
    return SyntheticTask(n_train=64, n_val=32, n_test=64, epochs=1)


def mlp(width: int) -> nn.Module:
    return nn.Sequential(nn.Linear(20, width), nn.ReLU(), nn.Linear(width, 4))


class ThreadProbe(nn.Module):
    """Records how many intra-op threads each forward ran with."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.seen: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(torch.get_num_threads())
        return self.linear(x)


class Failing(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("boom")


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


def test_latency_is_positive_and_runs_eval_no_grad_with_the_requested_threads() -> None:
    model = ThreadProbe().train()
    previous = torch.get_num_threads()
    target = 2 if previous != 2 else 3
    value = latency_ms(model, torch.zeros(1, 4), warmup=2, repeats=5, threads=target)
    assert value > 0 and math.isfinite(value)
    assert model.seen == [target] * 7
    assert model.training
    assert torch.get_num_threads() == previous


def test_num_threads_restored_when_forward_fails() -> None:
    previous = torch.get_num_threads()
    target = 2 if previous != 2 else 3
    with pytest.raises(RuntimeError, match="boom"):
        latency_ms(Failing(), torch.zeros(1, 4), warmup=1, repeats=1, threads=target)
    assert torch.get_num_threads() == previous


def test_latency_rejects_no_repeats() -> None:
    with pytest.raises(ValueError):
        latency_ms(mlp(2), torch.zeros(1, 20), warmup=0, repeats=0)


def test_measure_model_on_synthetic_task(task: SyntheticTask) -> None:
    torch.manual_seed(0)
    width = 8
    model = task.build_model({"hidden1": width}).train()
    model[2].eval()  # a submodule in its own mode keeps it
    result = measure_model(model, task, warmup=1, repeats=3)
    assert [m.training for m in model] == [True, True, False, True]
    assert isinstance(result, Measurement)
    assert result.metrics == task.evaluate(model, "test")
    assert set(result.metrics) >= {task.primary_metric}
    assert result.macs == 20 * width + width * 4
    assert result.params == count_params(model) == 20 * width + width + width * 4 + 4
    assert result.bytes == state_bytes(model)
    assert result.latency_ms > 0
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
    result = measure_model(model, task, warmup=0, repeats=1)
    assert events == ["evaluate", "outputs", "to"]
    assert result.outputs == {"scores.txt": "1.0\n"}


def test_nan_outputs_raise(task: SyntheticTask) -> None:
    with pytest.raises(ValueError, match="mse"):
        measure_model(NaNOutput(), task, warmup=0, repeats=1)


def test_missing_primary_metric_raises(task: SyntheticTask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(task, "evaluate", lambda model, split="test": {"other": 1.0})
    with pytest.raises(ValueError, match="primary metric"):
        measure_model(mlp(4), task, warmup=0, repeats=1)
