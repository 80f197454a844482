"""Channel surgery: discovered axes, function-preserving permutations, exact folding of gates."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from tradeoff_bench.methods.channels import Axis, along, consumer_axes, knob_axes, permute_knob, scale_consumers
from tradeoff_bench.tasks.base import GateFactory, Task, TrainRecipe
from tradeoff_bench.tasks.rnn import gated_rnn
from tradeoff_bench.tasks.synthetic import SyntheticTask


class _GRUNet(nn.Module):
    def __init__(self, widths: dict[str, int], gate: GateFactory) -> None:
        super().__init__()
        self.front = nn.Conv1d(3, widths["conv"], 3, padding=1)
        self.front_gate = gate("conv", widths["conv"], 1)
        self.gru = nn.GRU(widths["conv"], widths["gru"], batch_first=True)
        self.gru_gate = gate("gru", widths["gru"], -1)
        self.head = nn.Linear(widths["gru"], 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.front_gate(torch.relu(self.front(x))).transpose(1, 2)
        return self.head(gated_rnn(self.gru, h, self.gru_gate))


@dataclass
class GRUTask(Task):
    """A conv front end into a GRU: a knob feeding an RNN, and an RNN knob with 3 gate blocks."""

    name = "gru-test"
    primary_metric = "mse"

    @property
    def corpus(self) -> str:
        return "none"

    def batches(self, split: str, batch_size: int, *, shuffle: bool = False, seed: int = 0) -> Iterator:
        yield torch.randn(4, 3, 7), torch.randn(4, 7, 2)

    @property
    def recipe(self) -> TrainRecipe:
        return TrainRecipe(epochs=1, batch_size=4, lr=1e-3)

    @property
    def knobs(self) -> dict[str, int]:
        return {"conv": 6, "gru": 5}

    def _build(self, widths: dict[str, int], gate: GateFactory) -> nn.Module:
        return _GRUNet(widths, gate)

    def example_input(self) -> torch.Tensor:
        return torch.zeros(1, 3, 7)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(output, target)

    def evaluate(self, model: nn.Module, split: str = "test") -> dict[str, float]:
        return {"mse": 0.0}

    @property
    def reference_metric(self) -> float:
        return 1.0


TASKS = {
    "mlp": (SyntheticTask(max_width=12, teacher_width=4, depth=2), (9, 20)),
    "conv": (SyntheticTask(model="conv", max_width=8, teacher_width=4, depth=2, length=6), (9, 20, 6)),
    "gru": (GRUTask(), (9, 3, 7)),
}


class _Scale(nn.Module):
    """A fixed per-channel multiplicative gate, the one `scale_consumers` folds away."""

    def __init__(self, scale: torch.Tensor, dim: int) -> None:
        super().__init__()
        self.register_buffer("scale", scale)
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * along(self.scale, x, self.dim)


def test_axes_of_a_gru_knob_have_three_gate_blocks() -> None:
    axes = knob_axes(GRUTask())
    assert Axis("gru.weight_ih_l0", 0, 3) in axes["gru"]
    assert Axis("gru.weight_hh_l0", 1, 1) in axes["gru"]
    assert Axis("gru.weight_ih_l0", 1, 1) in axes["conv"]
    consumers = {a.name for a in consumer_axes(axes, "gru")}
    assert consumers == {"head.weight", "gru.weight_hh_l0"}  # the recurrence reads the gated state too
    assert {a.name for a in consumer_axes(axes, "conv")} == {"gru.weight_ih_l0"}


def test_buffers_are_never_consumers() -> None:
    axes = {"k": [Axis("filterbank", 1, 1, buffer=True), Axis("conv.weight", 1, 1)]}
    assert consumer_axes(axes, "k") == [Axis("conv.weight", 1, 1)]


@pytest.mark.parametrize("family", list(TASKS))
def test_permutation_preserves_the_function(family: str) -> None:
    task, shape = TASKS[family]
    torch.manual_seed(0)
    model = task.build_model().eval()
    x = torch.randn(shape)
    with torch.no_grad():
        before = model(x)
        axes = knob_axes(task)
        for knob, width in task.knobs.items():
            permute_knob(model, axes, knob, torch.randperm(width))
        after = model(x)
    torch.testing.assert_close(after, before, rtol=1e-5, atol=1e-6)


def test_permutation_moves_the_chosen_channels_first() -> None:
    task, _ = TASKS["mlp"]
    model = task.build_model()
    original = model[0].weight.detach().clone()
    order = torch.randperm(12)
    permute_knob(model, knob_axes(task), "hidden1", order)
    torch.testing.assert_close(model[0].weight.detach(), original[order])


def test_a_non_permutation_is_rejected() -> None:
    task, _ = TASKS["mlp"]
    with pytest.raises(ValueError, match="not a permutation"):
        permute_knob(task.build_model(), knob_axes(task), "hidden1", torch.zeros(12, dtype=torch.long))


@pytest.mark.parametrize("family", list(TASKS))
def test_folding_a_gate_into_its_consumers_is_exact(family: str) -> None:
    task, shape = TASKS[family]
    torch.manual_seed(1)
    scales = {knob: torch.rand(width) * 2 for knob, width in task.knobs.items()}
    gated = task.build_model(gate=lambda knob, width, dim: _Scale(scales[knob], dim)).eval()
    plain = task.build_model().eval()
    plain.load_state_dict({k: v for k, v in gated.state_dict().items() if k in plain.state_dict()})
    axes = knob_axes(task)
    for knob, scale in scales.items():
        scale_consumers(plain, axes, knob, scale)
    x = torch.randn(shape)
    with torch.no_grad():
        torch.testing.assert_close(plain(x), gated(x), rtol=1e-5, atol=1e-6)


def test_a_dimension_not_made_of_channels_is_an_error() -> None:
    @dataclass
    class Padded(GRUTask):
        def _build(self, widths: dict[str, int], gate: GateFactory) -> nn.Module:
            return nn.Linear(widths["conv"] + 1, 2)

    with pytest.raises(ValueError, match="whole channels"):
        knob_axes(Padded())


def test_max_feature_map_pairs_are_interleaved_and_permute_as_whole_channels() -> None:
    from tradeoff_bench.tasks.asvspoof.task import ASVspoofTask

    task = ASVspoofTask(model="lcnn", features="lfcc", n_lfcc=8)
    axes = knob_axes(task)
    assert Axis("body.0.conv.weight", 0, 2, interleaved=True) in axes["block1"]
    torch.manual_seed(0)
    model = task.build_model().eval()
    x = torch.randn(2, *task.example_input().shape[1:])
    with torch.no_grad():
        before = model(x)
        for knob, width in task.knobs.items():
            permute_knob(model, axes, knob, torch.randperm(width))
        torch.testing.assert_close(model(x), before, rtol=1e-5, atol=1e-6)
