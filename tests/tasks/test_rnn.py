"""`gated_rnn`: the unrolled recurrence is the fused one, and a gate inside it slices hidden units away."""

import pytest
import torch
from torch import nn

from tradeoff_bench.methods.slicing import copy_leading_channels
from tradeoff_bench.tasks.rnn import gated_rnn


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
