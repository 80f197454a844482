"""MAC counts checked exactly against closed forms and against torch's FlopCounterMode.

FlopCounterMode counts 2 flops per multiply-add at the dispatcher, so half its total is our MACs.
It can only count ops it has a formula for, which sets three conventions for the reference run:
- oneDNN off: otherwise CPU RNNs run the fused `mkldnn_rnn_layer`, which it counts as 0.
- SDPA math backend: CPU's fused `_scaled_dot_product_flash_attention_for_cpu` has no formula (0);
  the math backend runs the same products as plain bmm.
- grad enabled: in eval under no_grad, nn.MultiheadAttention takes its fused
  `_native_multi_head_attention` kernel, which FlopCounterMode sees as one op without a formula
  (0). With grad enabled MHA decomposes into linear + SDPA. fvcore counts the fused op through our
  handle, and `test_mha_fast_and_slow_paths_agree` pins that both paths give the same count.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.nn.utils.rnn import pack_padded_sequence
from torch.utils.flop_counter import FlopCounterMode

from tradeoff_bench.core.flops import HANDLES, ZERO_MAC_OPS, UnsupportedOperatorError, count_macs, mac_breakdown
from tradeoff_bench.tasks.synthetic import SyntheticTask


def reference_macs(model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> int:
    """FlopCounterMode's total // 2, under the conventions in the module docstring."""
    model.eval()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="TF32 acceleration")  # emitted by mkldnn.flags
        with (
            torch.backends.mkldnn.flags(enabled=False),
            sdpa_kernel(SDPBackend.MATH),
            torch.enable_grad(),
            FlopCounterMode(display=False) as counter,
        ):
            model(*inputs)
    flops = counter.get_total_flops()
    assert flops % 2 == 0
    return flops // 2


def rnn_closed_form(
    gates: int, hidden: int, width_in: int, layers: int, directions: int, steps: int, proj: int = 0
) -> int:
    """Per step, layer and direction: gates*H*(input + recurrent width) (+ P*H for the projection)."""
    out = proj or hidden
    per_step = 0
    for layer in range(layers):
        layer_in = width_in if layer == 0 else out * directions
        per_step += directions * (gates * hidden * (layer_in + out) + proj * hidden)
    return steps * per_step


# --- models that need a wrapper --------------------------------------------------------------
class SelfAttention(nn.Module):
    def __init__(self, embed: int = 16, heads: int = 4, batch_first: bool = True) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(embed, heads, batch_first=batch_first)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(x, x, x, need_weights=False)[0]


class CrossAttention(SelfAttention):
    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return self.attn(x, memory, memory, need_weights=False)[0]


class CausalSelfAttention(nn.Module):
    """A hand-written attention block: fused qkv projection, SDPA, output projection."""

    def __init__(self, embed: int = 24, heads: int = 3) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(embed, 3 * embed)
        self.out = nn.Linear(embed, embed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, embed = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out(y.transpose(1, 2).reshape(batch, length, embed))


class Attend(nn.Module):
    def __init__(self, gqa: bool = False) -> None:
        super().__init__()
        self.gqa = gqa

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return F.scaled_dot_product_attention(q, k, v, enable_gqa=self.gqa)


class PackedGRU(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(8, 16, bidirectional=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gru(pack_padded_sequence(x, torch.tensor([5, 3])))[1]


class Products(nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return a @ b, torch.baddbmm(c, b.transpose(1, 2), b), torch.einsum("bij,bkj->bik", b, b)


def r(*shape: int) -> torch.Tensor:
    return torch.randn(*shape)


B, L, S, E = 2, 5, 7, 16
CASES: dict[str, tuple[Callable[[], nn.Module], Callable[[], tuple[torch.Tensor, ...]], int]] = {
    "linear": (lambda: nn.Linear(20, 7), lambda: (r(3, 20),), 3 * 20 * 7),
    "linear-3d": (lambda: nn.Linear(20, 7), lambda: (r(2, 3, 20),), 6 * 20 * 7),
    # out length (33 + 2*2 - 5) // 2 + 1 = 17; each output: (6/2 groups) * 5 taps
    "conv1d": (lambda: nn.Conv1d(6, 8, 5, stride=2, padding=2, groups=2), lambda: (r(2, 6, 33),), 2 * 8 * 17 * 3 * 5),
    "conv1d-same": (lambda: nn.Conv1d(4, 6, 3, padding="same", dilation=2), lambda: (r(2, 4, 10),), 2 * 6 * 10 * 4 * 3),
    # out (11 + 2 - 3) // 2 + 1 = 6 by (13 + 4 - 5) + 1 = 13; each output: (6/3 groups) * 3*5 taps
    "conv2d": (
        lambda: nn.Conv2d(6, 9, (3, 5), stride=(2, 1), padding=(1, 2), groups=3),
        lambda: (r(2, 6, 11, 13),),
        2 * 9 * 6 * 13 * 2 * 15,
    ),
    "gru": (
        lambda: nn.GRU(8, 16, num_layers=2, bidirectional=True, batch_first=True),
        lambda: (r(3, 5, 8),),
        rnn_closed_form(3, 16, 8, 2, 2, steps=15),
    ),
    "gru-h0": (
        lambda: nn.GRU(8, 16, num_layers=2, bidirectional=True, batch_first=True),
        lambda: (r(3, 5, 8), r(4, 3, 16)),
        rnn_closed_form(3, 16, 8, 2, 2, steps=15),
    ),
    "gru-packed": (PackedGRU, lambda: (r(5, 2, 8),), rnn_closed_form(3, 16, 8, 1, 2, steps=5 + 3)),
    "lstm": (lambda: nn.LSTM(8, 16, num_layers=2), lambda: (r(5, 2, 8),), rnn_closed_form(4, 16, 8, 2, 1, steps=10)),
    "lstm-state": (
        lambda: nn.LSTM(8, 16, num_layers=2),
        lambda: (r(5, 2, 8), (r(2, 2, 16), r(2, 2, 16))),
        rnn_closed_form(4, 16, 8, 2, 1, steps=10),
    ),
    "lstm-proj": (
        lambda: nn.LSTM(8, 16, num_layers=2, proj_size=4, bidirectional=True),
        lambda: (r(5, 2, 8),),
        rnn_closed_form(4, 16, 8, 2, 2, steps=10, proj=4),
    ),
    "rnn-tanh": (lambda: nn.RNN(8, 16), lambda: (r(5, 3, 8),), rnn_closed_form(1, 16, 8, 1, 1, steps=15)),
    "rnn-relu": (
        lambda: nn.RNN(8, 16, num_layers=3, nonlinearity="relu", batch_first=True),
        lambda: (r(3, 5, 8),),
        rnn_closed_form(1, 16, 8, 3, 1, steps=15),
    ),
    # in-projections of q, k, v + out-projection + scores + weighted sum
    "mha": (SelfAttention, lambda: (r(B, L, E),), 4 * B * L * E * E + 2 * B * L * L * E),
    "mha-cross": (
        CrossAttention,
        lambda: (r(B, L, E), r(B, S, E)),
        2 * B * L * E * E + 2 * B * S * E * E + 2 * B * L * S * E,
    ),
    "sdpa-block": (CausalSelfAttention, lambda: (r(2, 6, 24),), 2 * 6 * 24 * 72 + 2 * 6 * 24 * 24 + 2 * 2 * 6 * 6 * 24),
    # (B, H, L, E) x (B, H, S, E) and (B, H, S, Ev): B*H*L*S*(E + Ev)
    "sdpa": (Attend, lambda: (r(2, 4, 5, 8), r(2, 4, 7, 8), r(2, 4, 7, 6)), 2 * 4 * 5 * 7 * (8 + 6)),
    "sdpa-gqa": (
        lambda: Attend(gqa=True),
        lambda: (r(2, 4, 5, 8), r(2, 2, 7, 8), r(2, 2, 7, 6)),
        2 * 4 * 5 * 7 * (8 + 6),
    ),
    # (5,3) @ (2,3,7) broadcasts; baddbmm (2,7,3) x (2,3,7); einsum (2,3,7) x (2,3,7) over j
    "products": (Products, lambda: (r(5, 3), r(2, 3, 7), r(2, 7, 7)), 2 * 5 * 3 * 7 + 2 * 7 * 3 * 7 + 2 * 3 * 7 * 3),
}


@pytest.mark.parametrize("case", CASES)
def test_macs_equal_closed_form_and_flop_counter(case: str) -> None:
    make_model, make_inputs, closed_form = CASES[case]
    torch.manual_seed(0)
    model, inputs = make_model(), make_inputs()
    assert count_macs(model, inputs) == closed_form
    assert reference_macs(model, inputs) == closed_form


def test_mha_fast_and_slow_paths_agree() -> None:
    """In eval under no_grad, batch_first MHA traces to the fused op; batch_first=False decomposes."""
    fast, slow = SelfAttention(batch_first=True), SelfAttention(batch_first=False)
    slow.load_state_dict(fast.state_dict())
    fast_ops = mac_breakdown(fast, r(B, L, E))
    slow_ops = mac_breakdown(slow, r(L, B, E))
    assert set(fast_ops) == {"_native_multi_head_attention"}
    assert set(slow_ops) == {"linear", "scaled_dot_product_attention"}
    assert sum(fast_ops.values()) == sum(slow_ops.values()) == 4 * B * L * E * E + 2 * B * L * L * E


def test_transformer_layer_counts_attention_feedforward_and_norms() -> None:
    layer = nn.TransformerEncoderLayer(E, 4, 32, batch_first=True)
    ops = mac_breakdown(layer, r(B, L, E))
    tokens = B * L
    assert ops["linear"] == tokens * 2 * E * 32  # feed-forward
    assert ops["layer_norm"] == 2 * 5 * tokens * E  # fvcore's convention: 5 per element, affine
    assert ops["_native_multi_head_attention"] == 4 * tokens * E * E + 2 * B * L * L * E


@pytest.mark.parametrize("k", [1, 7, 64])
def test_synthetic_mlp_macs(k: int) -> None:
    task = SyntheticTask()
    assert count_macs(task.build_model({"hidden1": k}), task.example_input()) == 20 * k + k * 4


def test_synthetic_conv_macs() -> None:
    task = SyntheticTask(model="conv")
    k = 9
    assert count_macs(task.build_model({"hidden1": k}), task.example_input()) == 16 * (20 * k * 5 + k * 4)


class Unsupported(nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return torch.cumsum(x, -1), torch.cumsum(x, 0), torch.fft.rfft(x), torch.linalg.inv(x)


def test_unsupported_operators_are_an_error_naming_each() -> None:
    with pytest.raises(UnsupportedOperatorError) as raised:
        count_macs(Unsupported(), r(4, 4))
    assert isinstance(raised.value, ValueError)
    assert raised.value.ops["aten::cumsum"] == 2
    assert raised.value.ops["aten::fft_rfft"] == 1
    assert any("inv" in op for op in raised.value.ops)
    message = str(raised.value)
    assert "aten::cumsum (2x)" in message and "aten::fft_rfft (1x)" in message and "HANDLES" in message


class StraightThrough(torch.autograd.Function):
    @staticmethod
    def forward(ctx: object, x: torch.Tensor) -> torch.Tensor:
        return x.round()

    @staticmethod
    def backward(ctx: object, grad: torch.Tensor) -> torch.Tensor:
        return grad


def test_custom_autograd_function_is_an_error() -> None:
    model = nn.Sequential(nn.Linear(4, 4))
    model.register_forward_hook(lambda module, args, out: StraightThrough.apply(out))
    with pytest.raises(UnsupportedOperatorError, match="StraightThrough"):
        count_macs(model, r(1, 4))


def test_extra_handles_add_or_zero_an_operator() -> None:
    model = nn.Sequential(nn.Linear(4, 3))
    model.register_forward_hook(lambda module, args, out: torch.cumsum(out, -1))
    assert count_macs(model, r(2, 4), extra_handles={"aten::cumsum": None}) == 2 * 4 * 3
    assert count_macs(model, r(2, 4), extra_handles={"aten::cumsum": lambda i, o: 100}) == 2 * 4 * 3 + 100


@pytest.mark.parametrize("training", [True, False])
def test_training_flag_is_restored(training: bool) -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5)).train(training)
    count_macs(model, r(1, 4))
    assert all(m.training is training for m in model.modules())
    broken = nn.Sequential(Unsupported()).train(training)
    with pytest.raises(UnsupportedOperatorError):
        count_macs(broken, r(4, 4))
    assert broken.training is training


def test_mixed_train_eval_flags_are_restored_per_module() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Dropout(0.5)).train()
    model[1].eval()  # e.g. frozen statistics inside a model being trained
    count_macs(model, r(2, 4))
    assert [m.training for m in model] == [True, False, True] and model.training


def test_breakdown_sums_to_total_and_is_deterministic() -> None:
    model = nn.Sequential(nn.Conv1d(4, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 8, 2))
    x = r(1, 4, 10)
    ops = mac_breakdown(model, x)
    assert ops == {"conv": 8 * 4 * 3 * 8, "linear": 64 * 2}
    assert count_macs(model, x) == sum(ops.values()) == count_macs(model, x)


def test_counting_is_quiet(capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        count_macs(nn.GRU(4, 8, batch_first=True), r(1, 3, 4))
        with pytest.raises(UnsupportedOperatorError):
            count_macs(Unsupported(), r(4, 4))
    assert caught == []
    assert capfd.readouterr() == ("", "")
    assert caplog.records == []


def test_allowlist_covers_fvcore_ignores_and_never_shadows_a_handle() -> None:
    from fvcore.nn.flop_count import _DEFAULT_SUPPORTED_OPS
    from fvcore.nn.jit_analysis import _IGNORED_OPS

    assert _IGNORED_OPS <= ZERO_MAC_OPS, "every op fvcore ignores must be on our documented list"
    assert not ZERO_MAC_OPS & (set(HANDLES) | set(_DEFAULT_SUPPORTED_OPS))
    assert {"aten::cumsum", "aten::fft_rfft", "aten::linalg_inv"}.isdisjoint(ZERO_MAC_OPS)


def test_import_does_not_load_fvcore() -> None:
    root = Path(__file__).resolve().parents[2]
    code = "import sys, tradeoff_bench.core.flops; assert 'fvcore' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)


def test_sparse_count_by_hand_on_tiny_mlp() -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    x = torch.zeros(1, 4)
    assert count_macs(model, x) == count_macs(model, x, sparse=True) == 4 * 8 + 8 * 2
    with torch.no_grad():
        model[0].weight[:4].zero_()  # 16 of 32 weights of the first layer
    assert count_macs(model, x) == 48
    assert count_macs(model, x, sparse=True) == 16 + 16


def test_sparse_count_scales_conv_and_gru_by_their_nonzero_share() -> None:
    class ConvGRU(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv1d(3, 6, 3, padding=1)
            self.gru = nn.GRU(6, 5, num_layers=2, batch_first=True)
            self.head = nn.Linear(5, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.gru(self.conv(x).transpose(1, 2))[0])

    model, x = ConvGRU().eval(), torch.randn(1, 3, 7)
    dense = count_macs(model, x)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    assert count_macs(model, x) == dense
    assert count_macs(model, x, sparse=True) == 0  # every MAC of this model multiplies a weight
    with torch.no_grad():
        model.gru.weight_hh_l1.fill_(1.0)  # 5·5·3 per step, 7 steps
    assert count_macs(model, x, sparse=True) == 7 * 3 * 5 * 5
