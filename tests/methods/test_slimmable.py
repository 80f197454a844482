from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import pytest
import torch
from torch import nn

from tradeoff_bench.core.flops import count_macs
from tradeoff_bench.methods.base import RunContext
from tradeoff_bench.methods.slicing import leading_slices
from tradeoff_bench.methods.slimmable import Slimmable, SlimmableNet, uniform_widths
from tradeoff_bench.tasks.base import Batch, GateFactory, Task, TrainRecipe
from tradeoff_bench.tasks.synthetic import SyntheticTask


class _ConvGru(nn.Module):
    def __init__(self, conv: int, gru: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(3, conv, 3, padding=1)
        self.norm = nn.BatchNorm1d(conv)
        self.gru = nn.GRU(conv, gru, batch_first=True)
        self.head = nn.Linear(gru, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.norm(self.conv(x)))
        out, _ = self.gru(h.transpose(1, 2))
        return self.head(out)


@dataclass
class ConvGruTask(Task):
    """A tiny sequence regression with a BatchNorm'd conv knob and a GRU knob."""

    name = "conv-gru-test"
    primary_metric = "mse"

    @property
    def corpus(self) -> str:
        return "random"

    @cached_property
    def _data(self) -> Batch:
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(64, 3, 6, generator=gen)
        return x, torch.tanh(x[:, :2].transpose(1, 2).cumsum(1))

    def batches(self, split: str, batch_size: int, *, shuffle: bool = False, seed: int = 0) -> Iterator[Batch]:
        x, y = self._data
        for start in range(0, len(x), batch_size):
            yield x[start : start + batch_size], y[start : start + batch_size]

    @property
    def recipe(self) -> TrainRecipe:
        return TrainRecipe(epochs=2, batch_size=16, lr=1e-2)

    @property
    def knobs(self) -> dict[str, int]:
        return {"conv": 8, "gru": 8}

    def _build(self, widths: dict[str, int], gate: GateFactory) -> nn.Module:
        return _ConvGru(widths["conv"], widths["gru"])

    def example_input(self) -> torch.Tensor:
        return torch.zeros(1, 3, 6)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(output, target)

    @torch.no_grad()
    def evaluate(self, model: nn.Module, split: str = "test") -> dict[str, float]:
        x, y = self._data
        return {"mse": float(nn.functional.mse_loss(model.eval()(x), y))}

    @property
    def reference_metric(self) -> float:
        return 1.0


def _run(task: Task, **settings: object) -> list:
    torch.manual_seed(0)
    method = Slimmable(**{"widths": (0.25, 0.5, 1.0), "sandwich": 1, "epochs": 1, "calibration_batches": 2, **settings})
    return method.run(task, RunContext(seed=0, count_macs=count_macs))


@pytest.mark.parametrize("task", [SyntheticTask(n_train=128, n_val=16, n_test=32, max_width=16), ConvGruTask()])
def test_candidates_claim_the_macs_of_the_model_at_their_widths(task: Task) -> None:
    candidates = _run(task)
    assert [c.label for c in candidates] == ["slim-x0.25", "slim-x0.5", "slim-x1"]
    x = task.example_input()
    macs = [count_macs(c.model, x) for c in candidates]
    for candidate, measured in zip(candidates, macs):
        assert candidate.widths == uniform_widths(task, candidate.facts["multiplier"])
        assert measured == count_macs(task.build_model(candidate.widths), x)
        assert candidate.train_epochs == 1 and not candidate.model.training
    assert macs == sorted(macs) and macs[0] < macs[-1]


def test_narrow_candidates_are_the_trained_parameters_sliced_with_recalibrated_batchnorm() -> None:
    task = ConvGruTask()
    *narrow, full = _run(task)
    x = task._data[0][:5]
    params = dict(full.model.named_parameters())
    for candidate in narrow:
        structure = task.build_model(candidate.widths).eval()
        tensors = {**leading_slices(params, structure, buffers=False), **dict(candidate.model.named_buffers())}
        with torch.no_grad():
            expected = torch.func.functional_call(structure, tensors, (x,))
            assert torch.allclose(candidate.model(x), expected, atol=1e-6)
        norm = candidate.model.norm
        assert norm.num_batches_tracked.item() == 2 and norm.momentum == 0.1  # exact average over 2 batches
        with torch.no_grad():  # the calibration batches are the first 2 x 16 training examples
            pre_norm = candidate.model.conv(task._data[0][:32])
        assert torch.allclose(norm.running_mean, pre_norm.mean(dim=(0, 2)), atol=1e-5)
        assert torch.allclose(norm.running_var, pre_norm.var(dim=(0, 2)), rtol=0.1)  # mean of batch variances


def test_narrow_gru_trains_only_the_leading_units_of_the_shared_parameters() -> None:
    task = ConvGruTask()
    net = SlimmableNet(task, task.build_model())
    net.model.train()
    net.forward({"conv": 4, "gru": 3}, task._data[0][:8]).square().mean().backward()
    grad = net.model.gru.weight_hh_l0.grad.unflatten(0, (3, 8))
    assert grad[:, :3, :3].abs().sum() > 0
    assert grad[:, 3:].abs().sum() == 0 and grad[:, :, 3:].abs().sum() == 0
    assert net.model.conv.weight.grad[4:].abs().sum() == 0
    assert net.structure({"conv": 4, "gru": 3}) is net.structure({"gru": 3, "conv": 4})  # built once


def test_one_run_trains_every_width_and_wider_is_better() -> None:
    task = SyntheticTask(n_train=1024, n_val=16, n_test=512, max_width=16, teacher_width=4, epochs=10)
    mse = [task.evaluate(c.model)["mse"] for c in _run(task, epochs=None)]
    assert mse == sorted(mse, reverse=True) and mse[-1] < 0.7 * task.reference_metric, mse


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="widths"):
        Slimmable(widths=(0.0, 1.0))
    with pytest.raises(ValueError, match="distill"):
        Slimmable(distill="kl")  # type: ignore[arg-type]
