"""The shared cost rules, against values computed by hand: bit-operations and deployable weight bytes."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from tradeoff_bench.core.costs import bit_operations, quantized_weight_bits, weight_bytes
from tradeoff_bench.core.flops import count_macs


def int8_dynamic(model: nn.Module) -> nn.Module:
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)


def int8_static(model: nn.Module, example: torch.Tensor) -> nn.Module:
    from torch.ao.quantization import QConfigMapping, get_default_qconfig
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    torch.backends.quantized.engine = "x86"
    mapping = QConfigMapping().set_object_type(nn.Linear, get_default_qconfig("x86"))
    prepared = prepare_fx(model, mapping, (example,))
    prepared(example)
    return convert_fx(prepared)


def test_float_linear_is_32_by_32_bits_and_4_bytes_a_value() -> None:
    linear = nn.Linear(4, 3)
    bops, macs = bit_operations(linear, torch.zeros(1, 4), count_macs)
    assert (bops, macs) == (4 * 3 * 32 * 32, 12)
    assert weight_bytes(linear) == (12 + 3) * 4


def test_dynamic_int8_linear_by_hand() -> None:
    """12 int8 MACs at 8 x 8 bits; 12 int8 weights + one scale/zero point (8 bytes) + 3 float32 biases."""
    float_model = nn.Sequential(nn.Linear(4, 3)).eval()
    quantized = int8_dynamic(float_model)
    assert quantized_weight_bits(quantized) == {"0": 8}
    bops, macs = bit_operations(quantized, torch.zeros(1, 4), count_macs, cost_model=float_model)
    assert (bops, macs) == (12 * 8 * 8, 12)
    assert weight_bytes(quantized) == 12 * 1 + 8 + 3 * 4 == 32


def test_static_int8_linear_is_per_channel() -> None:
    """Per output channel qparams: 12 int8 weights + 3 x 8 bytes of scale/zero point + 3 float32 biases,
    and the graph's input quantiser, a float32 scale and an int64 zero point held as buffers (12 bytes)."""
    torch.manual_seed(0)
    float_model = nn.Sequential(nn.Linear(4, 3)).eval()
    example = torch.randn(2, 4)
    quantized = int8_static(float_model, example)
    assert weight_bytes(quantized) == 12 + 3 * 8 + 3 * 4 + (4 + 8) == 60
    bops, macs = bit_operations(quantized, example, count_macs, cost_model=float_model)
    assert (bops, macs) == (2 * 12 * 64, 24)


def test_partly_quantised_model_mixes_the_bit_widths() -> None:
    """An int8 Linear (4x3) beside a float one (3x2): 12 MACs at 64 bit-ops, 6 at 1024."""

    class Two(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(4, 3), nn.Conv1d(3, 2, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.b(self.a(x).unsqueeze(-1))

    float_model = Two().eval()
    quantized = int8_dynamic(float_model)  # the Conv1d stays float
    bops, macs = bit_operations(quantized, torch.zeros(1, 4), count_macs, cost_model=float_model)
    assert macs == 12 + 6
    assert bops == 12 * 64 + 6 * 1024


@pytest.mark.parametrize("width", [1, 8])
def test_bops_of_a_float_model_are_its_macs_times_1024(width: int) -> None:
    model = nn.Sequential(nn.Linear(20, width), nn.ReLU(), nn.Linear(width, 4))
    bops, macs = bit_operations(model, torch.zeros(1, 20), count_macs)
    assert bops == macs * 1024 == (20 * width + width * 4) * 1024
