"""A gate on an RNN's hidden-size knob, acting inside the recurrence.

The hidden state of a GRU or LSTM is read twice: by the recurrence (`weight_hh`, at the next step)
and by the layers after it. A gate applied to the output alone hides a unit from the layers after
it but not from the other units, so the full RNN with units ≥ w gated off is not the RNN sliced to
w units. `gated_rnn` applies the gate wherever the state is read: the recurrence reads gate(h_t),
and so do the layers after it, while the state itself evolves ungated (as a channel that a gate
zeroes still exists in its producer). A gated-off unit then influences nothing, which is exactly
the sliced RNN, and a gate that blends one unit with noise (a DCL) blends what every reader sees.

A gate that multiplies each channel by a fixed factor s (a mask, a scale, one noise draw per batch)
says so through `channel_scale()`; the RNN then runs PyTorch's fused kernel with `weight_hh`'s
columns scaled by s (the same function) and the output multiplied by s. Any other gate (one that
draws fresh noise at every step, as a DCL's blended unit does) gets the recurrence unrolled in
Python with the RNN's own parameters (6× slower for the GRU of the vad CRNN, batch 32, 400 steps).
"""

from __future__ import annotations

import torch
from torch import nn


def gated_rnn(rnn: nn.GRU | nn.LSTM, x: torch.Tensor, gate: nn.Module) -> torch.Tensor:
    """Output sequence (batch, time, hidden) of a batch-first `rnn` on `x` from a zero state, each
    step's hidden state passed through `gate` (channel axis -1) before the recurrence and the output
    read it."""
    if isinstance(gate, nn.Identity):
        return rnn(x)[0]
    _check_supported(rnn)
    channel_scale = getattr(gate, "channel_scale", None)
    scale = channel_scale() if channel_scale is not None else None
    if scale is not None:
        return _fused(rnn, x, scale.to(x)) * scale.to(x)
    blocks = 3 if rnn.mode == "GRU" else 4
    hidden = rnn.hidden_size
    weight_ih, weight_hh = rnn.get_parameter("weight_ih_l0"), rnn.get_parameter("weight_hh_l0")
    inputs = nn.functional.linear(x, weight_ih, rnn.get_parameter("bias_ih_l0") if rnn.bias else None)
    bias_hh = rnn.get_parameter("bias_hh_l0") if rnn.bias else x.new_zeros(blocks * hidden)
    state = x.new_zeros(x.shape[0], hidden)
    cell = torch.zeros_like(state)
    outputs: list[torch.Tensor] = []
    for step in range(x.shape[1]):
        # the zero initial state is read as zero by any gate: skip it (a DCL would blend noise into it)
        recurrent = bias_hh if step == 0 else nn.functional.linear(outputs[-1], weight_hh, bias_hh)
        if rnn.mode == "GRU":
            state = _gru_step(inputs[:, step], recurrent, state)
        else:
            state, cell = _lstm_step(inputs[:, step], recurrent, cell)
        outputs.append(gate(state))
    return torch.stack(outputs, dim=1)


def _fused(rnn: nn.GRU | nn.LSTM, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """The fused kernel (the call nn.GRU/nn.LSTM.forward makes, which fvcore's tracer also reads) with
    `weight_hh`'s columns scaled: the recurrence reads the state times `scale`."""
    weights = [rnn.get_parameter("weight_ih_l0"), rnn.get_parameter("weight_hh_l0") * scale]
    weights += [rnn.get_parameter("bias_ih_l0"), rnn.get_parameter("bias_hh_l0")] if rnn.bias else []
    zeros = x.new_zeros(1, x.shape[0], rnn.hidden_size)
    if rnn.mode == "GRU":
        return torch._VF.gru(x, zeros, weights, rnn.bias, 1, 0.0, rnn.training, False, True)[0]
    return torch._VF.lstm(x, (zeros, zeros), weights, rnn.bias, 1, 0.0, rnn.training, False, True)[0]


def _gru_step(inputs: torch.Tensor, recurrent: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
    in_r, in_z, in_n = inputs.chunk(3, dim=-1)
    rec_r, rec_z, rec_n = recurrent.chunk(3, dim=-1)
    reset, update = torch.sigmoid(in_r + rec_r), torch.sigmoid(in_z + rec_z)
    new = torch.tanh(in_n + reset * rec_n)
    return new + update * (state - new)


def _lstm_step(inputs: torch.Tensor, recurrent: torch.Tensor, cell: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    gate_i, gate_f, gate_g, gate_o = (inputs + recurrent).chunk(4, dim=-1)
    cell = torch.sigmoid(gate_f) * cell + torch.sigmoid(gate_i) * torch.tanh(gate_g)
    return torch.sigmoid(gate_o) * torch.tanh(cell), cell


def _check_supported(rnn: nn.Module) -> None:
    if not isinstance(rnn, (nn.GRU, nn.LSTM)) or not rnn.batch_first:
        raise NotImplementedError(f"gated_rnn runs batch-first nn.GRU and nn.LSTM, got {rnn}")
    if rnn.num_layers != 1 or rnn.bidirectional or rnn.proj_size:
        raise NotImplementedError(
            "gated_rnn gates one unidirectional layer without projection (one knob per layer's hidden size)"
        )
