"""`gated_rnn`: the unrolled recurrence is the fused one, a gate inside it slices hidden units away, and
a DCL's blend with fresh noise at every step runs fused and equals the unrolled recurrence."""

from dataclasses import replace

import pytest
import torch
from torch import nn

from tradeoff_bench.methods.dcl.layer import DynamicComplexityLayer
from tradeoff_bench.methods.noisy_gates import NoisyGates
from tradeoff_bench.methods.slicing import copy_leading_channels
from tradeoff_bench.tasks import rnn as rnn_module
from tradeoff_bench.tasks.rnn import RecurrentBlend, blended_rnn, first_state, gated_rnn, unrolled_rnn


class _Keep(nn.Module):
    def __init__(self, keep: int, width: int) -> None:
        super().__init__()
        self.mask = (torch.arange(width) < keep).float()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.mask


@pytest.mark.parametrize("kind", [nn.GRU, nn.LSTM])
def test_unrolled_rnn_with_a_pass_through_gate_is_the_fused_rnn(kind: type[nn.RNNBase]) -> None:
    torch.manual_seed(0)
    rnn, x = kind(5, 7, batch_first=True), torch.randn(3, 11, 5)
    with torch.no_grad():
        torch.testing.assert_close(gated_rnn(rnn, x, _Keep(7, 7)), rnn(x)[0], rtol=1e-5, atol=1e-6)
        assert torch.equal(gated_rnn(rnn, x, nn.Identity()), rnn(x)[0])


@pytest.mark.parametrize("kind", [nn.GRU, nn.LSTM])
def test_units_gated_off_inside_the_recurrence_are_sliced_away(kind: type[nn.RNNBase]) -> None:
    torch.manual_seed(0)
    full, narrow, x = kind(5, 7, batch_first=True), kind(5, 3, batch_first=True), torch.randn(3, 11, 5)
    copy_leading_channels(full, narrow)
    with torch.no_grad():
        gated = gated_rnn(full, x, _Keep(3, 7))
        torch.testing.assert_close(gated[..., :3], narrow(x)[0], rtol=1e-5, atol=1e-6)
        assert gated[..., 3:].abs().max() == 0
        output_only = full(x)[0][..., :3]  # the old, inexact gate: mask the output only
        assert (output_only - narrow(x)[0]).abs().max() > 1e-3


class _KeepScale(_Keep):
    def channel_scale(self) -> torch.Tensor:
        return self.mask


@pytest.mark.parametrize("kind", [nn.GRU, nn.LSTM])
def test_a_per_channel_gate_runs_fused_and_equals_the_unrolled_recurrence(kind: type[nn.RNNBase]) -> None:
    torch.manual_seed(0)
    rnn, x = kind(5, 7, batch_first=True), torch.randn(3, 11, 5)
    fused = gated_rnn(rnn, x, _KeepScale(4, 7))
    torch.testing.assert_close(fused, gated_rnn(rnn, x, _Keep(4, 7)), rtol=1e-5, atol=1e-6)
    fused.sum().backward()
    assert rnn.weight_hh_l0.grad is not None and rnn.weight_hh_l0.grad[:, 4:].abs().max() == 0


def test_unsupported_rnns_are_refused() -> None:
    with pytest.raises(NotImplementedError, match="unidirectional"):
        gated_rnn(nn.GRU(2, 3, batch_first=True, num_layers=2), torch.randn(1, 2, 2), _Keep(1, 3))
    with pytest.raises(NotImplementedError, match="batch-first"):
        gated_rnn(nn.GRU(2, 3), torch.randn(1, 2, 2), _Keep(1, 3))


class _BlendAtEveryStep(nn.Module):
    """The reference: gate(h_t) = s ⊙ h_t + e_f·c·ν_t, one call per step of `unrolled_rnn`."""

    def __init__(self, blend: RecurrentBlend, noise: torch.Tensor) -> None:
        super().__init__()
        self.blend, self.noise, self.step = blend, noise, 0

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        out = state * self.blend.scale
        out[:, self.blend.index] += self.blend.coefficient * self.noise[:, self.step]
        self.step += 1
        return out


def _blend_of(
    kind: type[nn.RNNBase], width: int, k: float, dtype: torch.dtype
) -> tuple[nn.RNNBase, DynamicComplexityLayer]:
    torch.manual_seed(0)
    rnn = kind(5, width, batch_first=True).to(dtype)
    dcl = DynamicComplexityLayer(width, -1, kappa_min=0.01).to(dtype).train()
    with torch.no_grad():
        dcl.kappa.fill_(k / width)
        dcl.running_var.uniform_(0.1, 0.5)
        dcl.updates = [1] * width
    return rnn, dcl


def _grads(output: torch.Tensor, weights: torch.Tensor, *leaves: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return torch.autograd.grad((output * weights).sum(), leaves, retain_graph=True)  # the blend is shared


@pytest.mark.parametrize("kind", [nn.GRU, nn.LSTM])
@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float32, 2e-5), (torch.float64, 1e-11)])
@pytest.mark.parametrize("k", [0.6, 3.0, 3.37, 5.5, 6.9])
def test_the_fused_blend_is_the_unrolled_recurrence_with_the_same_noise(
    kind: type[nn.RNNBase], dtype: torch.dtype, tolerance: float, k: float
) -> None:
    rnn, dcl = _blend_of(kind, 7, k, dtype)
    x = torch.randn(3, 13, 5, dtype=dtype, requires_grad=True)
    noise = 2 * torch.randn(3, 13, dtype=dtype)  # |ν| up to ~6: the carrier's bound M moves with it
    weights = torch.randn(3, 13, 7, dtype=dtype)
    blend = dcl.recurrent_blend(lambda: pytest.fail("the statistic exists"))
    assert blend is not None and blend.index == int(k)
    fixed = replace(blend, noise=lambda like: noise, observe=lambda values: None)
    leaves = (dcl.kappa, rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0, x)

    fused = blended_rnn(rnn, x, fixed)
    reference = unrolled_rnn(rnn, x, _BlendAtEveryStep(blend, noise))
    torch.testing.assert_close(fused, reference, rtol=tolerance, atol=tolerance)
    for got, want in zip(_grads(fused, weights, *leaves), _grads(reference, weights, *leaves)):
        torch.testing.assert_close(got, want, rtol=10 * tolerance, atol=10 * tolerance)
    quiet = unrolled_rnn(rnn, x, _BlendAtEveryStep(blend, torch.zeros_like(noise)))
    assert (quiet - reference).abs().max() > 1e-3  # the noise reaches the outputs and the recurrence
    if int(k) > 0:  # through the recurrence, into the channels that pass
        assert (quiet - reference)[:, 1:, : int(k)].abs().max() > 1e-3


def test_a_dcl_blends_an_rnn_on_the_fused_kernel_and_updates_its_statistic(monkeypatch: pytest.MonkeyPatch) -> None:
    rnn, dcl = _blend_of(nn.GRU, 7, 4.5, torch.float32)
    dcl.updates, variance = [0] * 7, dcl.running_var.clone()
    x = torch.randn(3, 13, 5)

    def refuse(*args: object) -> None:
        pytest.fail("a DCL in training ran the unrolled recurrence")

    monkeypatch.setattr(rnn_module, "unrolled_rnn", refuse)
    torch.manual_seed(1)
    out = gated_rnn(rnn, x, dcl)
    assert dcl.updates[4] == 2 and sum(dcl.updates) == 2  # first step's states, then the whole run
    first = first_state(rnn, x)[:, 4].var(unbiased=False)
    assert dcl.running_var[4] != variance[4] and dcl.running_var[4] != first
    assert torch.equal(dcl.running_var[:4], variance[:4]) and torch.equal(dcl.running_var[5:], variance[5:])
    assert out[..., 5:].abs().max() == 0 and out[..., 4].abs().min() > 0
    dcl.updates = [1] * 7
    with torch.no_grad():  # the statistic the run read: its first step's variance
        dcl.running_var[4] = first
    blend = dcl.recurrent_blend(lambda: pytest.fail("the statistic exists"))
    assert blend is not None
    torch.manual_seed(1)
    torch.testing.assert_close(blended_rnn(rnn, x, replace(blend, observe=lambda values: None)), out)


@pytest.mark.parametrize("k", [0.6, 3.0, 3.37, 6.9])
def test_a_dcl_forward_is_the_blend_it_hands_to_an_rnn(k: float) -> None:
    _, dcl = _blend_of(nn.GRU, 7, k, torch.float64)
    state = torch.randn(11, 7, dtype=torch.float64)
    with torch.no_grad():  # the batch's own variance: the forward's update leaves σ as the blend read it
        dcl.running_var[int(k)] = state[:, int(k)].var(unbiased=False)
    blend = dcl.recurrent_blend(lambda: pytest.fail("the statistic exists"))
    assert blend is not None
    torch.manual_seed(2)
    out = dcl(state)
    torch.manual_seed(2)
    noise = torch.randn(11, dtype=torch.float64)
    expected = state * blend.scale
    expected[:, blend.index] += blend.coefficient * noise
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)


def test_noisy_gates_run_an_rnn_on_the_fused_scale_path(monkeypatch: pytest.MonkeyPatch) -> None:
    gates = NoisyGates(sigma=0.5)
    gate = gates("gru", 7, -1).train()
    gates.resample_()
    rnn, x = nn.GRU(5, 7, batch_first=True), torch.randn(3, 13, 5)
    reference = unrolled_rnn(rnn, x, gate)

    def refuse(*args: object) -> None:
        pytest.fail("noisy gates ran the unrolled recurrence")

    monkeypatch.setattr(rnn_module, "unrolled_rnn", refuse)
    torch.testing.assert_close(gated_rnn(rnn, x, gate), reference, rtol=1e-5, atol=1e-6)
