"""The DCL complexity model against the bench's MAC counter, on several model families."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from tests.shape_only import Recurrent, ShapeOnlyTask
from tradeoff_bench.core.flops import count_macs
from tradeoff_bench.methods.dcl.complexity import ComplexityModelError, fit_complexity
from tradeoff_bench.tasks.base import GateFactory, Task
from tradeoff_bench.tasks.synthetic import SyntheticTask


@dataclass
class ConvStackTask(ShapeOnlyTask):
    """Conv2d-BN-ReLU twice with max pooling between, global average pooling and a classifier."""

    @property
    def knobs(self) -> dict[str, int]:
        return {"c1": 8, "c2": 6}

    def _build(self, widths: dict[str, int], gate: GateFactory) -> nn.Module:
        c1, c2 = widths["c1"], widths["c2"]
        return nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.BatchNorm2d(c1), nn.ReLU(), gate("c1", c1, 1), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, stride=2), nn.BatchNorm2d(c2), nn.ReLU(), gate("c2", c2, 1),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c2, 3),
        )  # fmt: skip

    def example_input(self) -> torch.Tensor:
        return torch.zeros(1, 1, 16, 12)


@dataclass
class CRNNTask(ShapeOnlyTask):
    """Conv1d front over mel frames, a GRU, a per-frame classifier."""

    @property
    def knobs(self) -> dict[str, int]:
        return {"conv": 8, "hidden": 7}

    def _build(self, widths: dict[str, int], gate: GateFactory) -> nn.Module:
        conv, hidden = widths["conv"], widths["hidden"]
        return nn.Sequential(
            nn.Conv1d(10, conv, 3, padding=1), nn.ReLU(), gate("conv", conv, 1),
            Recurrent(nn.GRU(conv, hidden, batch_first=True)), gate("hidden", hidden, -1), nn.Linear(hidden, 2),
        )  # fmt: skip

    def example_input(self) -> torch.Tensor:
        return torch.zeros(1, 10, 20)


class _EncoderBlock(nn.Module):
    def __init__(self, d_model: int, ffn: int, gate: GateFactory) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(d_model, 1, batch_first=True)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.ffn = nn.Sequential(nn.Linear(d_model, ffn), nn.ReLU(), gate("ffn", ffn, -1), nn.Linear(ffn, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.attention(x, x, x, need_weights=False)[0])
        return self.norm2(x + self.ffn(x))


@dataclass
class TransformerTask(ShapeOnlyTask):
    """Input projection, one post-norm encoder block, a classifier; knobs d_model and FFN width."""

    @property
    def knobs(self) -> dict[str, int]:
        return {"d_model": 8, "ffn": 9}

    def _build(self, widths: dict[str, int], gate: GateFactory) -> nn.Module:
        d_model, ffn = widths["d_model"], widths["ffn"]
        block = _EncoderBlock(d_model, ffn, gate)
        return nn.Sequential(nn.Linear(5, d_model), gate("d_model", d_model, -1), block, nn.Linear(d_model, 2))

    def example_input(self) -> torch.Tensor:
        return torch.zeros(1, 6, 5)


@dataclass
class PooledMelTask(ShapeOnlyTask):
    """The knob is the number of mel bands, pooled before a second convolution: ⌈K/2⌉ rows."""

    @property
    def knobs(self) -> dict[str, int]:
        return {"channels": 4, "mel": 12}

    def _build(self, widths: dict[str, int], gate: GateFactory) -> nn.Module:
        mel, channels = widths["mel"], widths["channels"]
        return nn.Sequential(
            _FirstBands(mel), nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(), gate("channels", channels, 1),
            nn.MaxPool2d(2, ceil_mode=True), nn.Conv2d(channels, 3, 3, padding=1), nn.Flatten(1, 2),
            nn.AdaptiveAvgPool1d(1),
        )  # fmt: skip

    def example_input(self) -> torch.Tensor:
        return torch.zeros(1, 1, 12, 8)


@dataclass
class BandRowsTask(ShapeOnlyTask):
    """Two 2-D convolutions slide over the leading `bands` rows: their MACs are c1·bands and c1·c2·bands."""

    @property
    def knobs(self) -> dict[str, int]:
        return {"bands": 6, "c1": 4, "c2": 3}

    def _build(self, widths: dict[str, int], gate: GateFactory) -> nn.Module:
        bands, c1, c2 = widths["bands"], widths["c1"], widths["c2"]
        return nn.Sequential(
            _FirstBands(bands), nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), gate("c1", c1, 1),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), gate("c2", c2, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(c2, 2),
        )  # fmt: skip

    def example_input(self) -> torch.Tensor:
        return torch.zeros(1, 1, 6, 5)


class _FirstBands(nn.Module):
    def __init__(self, bands: int) -> None:
        super().__init__()
        self.bands = bands

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, : self.bands]


def counted(task: Task, widths: dict[str, int]) -> int:
    return count_macs(task.build_model(widths), task.example_input())


def test_synthetic_mlp_is_exact_at_every_width() -> None:
    task = SyntheticTask(n_train=8, n_val=8, n_test=8)
    model = fit_complexity(task, count_macs)
    assert model.full_macs == counted(task, {})
    for width in range(1, 65):
        expected = counted(task, {"hidden1": width})
        assert model.exact({"hidden1": width}) == expected
        assert model({"hidden1": torch.tensor(float(width))}).item() == expected


SYNTHETIC_CONV = SyntheticTask(model="conv", depth=2, max_width=9, teacher_width=4)


@pytest.mark.parametrize(
    "task",
    [ConvStackTask(), CRNNTask(), TransformerTask(), SYNTHETIC_CONV, BandRowsTask()],
    ids=["conv-stack", "crnn", "transformer", "synthetic-conv-depth2", "band-rows-cubic"],
)
def test_polynomial_equals_the_count_of_every_integer_width_combination(task: Task) -> None:
    model = fit_complexity(task, count_macs)
    knobs = task.knobs
    for point in itertools.product(*(range(1, n + 1) for n in knobs.values())):
        widths = dict(zip(knobs, point))
        assert model.exact(widths) == counted(task, widths), widths


def test_transformer_cost_has_quadratic_and_bilinear_terms() -> None:
    terms = dict(fit_complexity(TransformerTask(), count_macs).terms)
    assert terms[(2, 0)] > 0 and terms[(1, 1)] > 0 and terms[(0, 2)] == 0


def test_continuous_evaluation_is_differentiable_and_interpolates() -> None:
    task = ConvStackTask()
    model = fit_complexity(task, count_macs)
    k1, k2 = torch.tensor(3.5, requires_grad=True), torch.tensor(4.25, requires_grad=True)
    value = model({"c1": k1, "c2": k2})
    value.backward()
    step = 1e-3
    for name, k in (("c1", k1), ("c2", k2)):
        widths = {"c1": k1.detach().double(), "c2": k2.detach().double()}
        up = model({**widths, name: widths[name] + step})
        down = model({**widths, name: widths[name] - step})
        assert k.grad.item() == pytest.approx(((up - down) / (2 * step)).item(), rel=1e-4)
    low, high = counted(task, {"c1": 3, "c2": 4}), counted(task, {"c1": 4, "c2": 5})
    assert low < value.item() < high


def test_the_lowest_degree_that_fits_is_kept() -> None:
    """Two knobs of convolutions that slide over a third's rows make a cubic term, which a degree-2
    fit cannot hold: the fit goes on to degree 3 there, and stays at 2 where that is exact."""
    degree = lambda task: max(sum(e) for e, c in fit_complexity(task, count_macs).terms if c)  # noqa: E731
    assert degree(BandRowsTask()) == 3
    assert degree(TransformerTask()) == 2
    assert len(fit_complexity(TransformerTask(), count_macs).terms) == 6  # the degree-2 lattice of two knobs


def test_a_cost_that_is_not_such_a_polynomial_is_an_error_naming_the_knob() -> None:
    with pytest.raises(ComplexityModelError, match="knob\\(s\\) 'mel'"):
        fit_complexity(PooledMelTask(), count_macs)


def test_fitting_does_not_move_the_training_rng() -> None:
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    fit_complexity(ConvStackTask(), count_macs)
    assert torch.equal(torch.rand(1), expected)
