"""A gate on an RNN's hidden-size knob, acting inside the recurrence.

The hidden state of a GRU or LSTM is read twice: by the recurrence (`weight_hh`, at the next step)
and by the layers after it. A gate applied to the output alone hides a unit from the layers after
it but not from the other units, so the full RNN with units ≥ w gated off is not the RNN sliced to
w units. `gated_rnn` applies the gate wherever the state is read: the recurrence reads gate(h_t),
and so do the layers after it, while the state itself evolves ungated (as a channel that a gate
zeroes still exists in its producer). A gated-off unit then influences nothing, which is exactly
the sliced RNN, and a gate that blends one unit with noise (a DCL) blends what every reader sees.

Every gate the suite has runs on PyTorch's fused kernel (`torch._VF.gru`/`lstm`, the call that
nn.GRU/nn.LSTM.forward makes and fvcore's tracer reads):
- a gate that multiplies each channel by a fixed factor s (a mask, a scale, one noise draw per
  batch) says so through `channel_scale()`: `weight_hh`'s columns are scaled by s and the output
  multiplied by s;
- a gate that also adds fresh noise to one channel f at every step, gate(h_t) = s ⊙ h_t + e_f·c·ν_t
  (a DCL in training: `RecurrentBlend`), says so through `recurrent_blend()`. The noise enters the
  kernel through one extra "carrier" unit: its update gate (GRU; LSTM: forget gate) is pinned shut
  and its input and output gates open by biases of ∓1e4 (0 or 1 exactly, with zero gradient), its
  recurrent row is zero, and an extra input channel drives it so that its state is ν_t/M exactly
  up to rounding (M = 2·max(|ν|, 1), so tanh is inverted well inside its range). Its column of
  `weight_hh` is c·M·`weight_hh`[:, f], so step t+1 reads c·ν_t·`weight_hh`[:, f] as the gated
  state would give, and the output is s ⊙ h_t + e_f·c·M·h^carrier_t. Its zero initial state adds
  nothing at step 0, as the gated zero state adds nothing. This matches the recurrence unrolled in
  Python (`unrolled_rnn`, kept as the tests' reference and for any other gate) to float32 rounding,
  in outputs and gradients, at the cost of one more hidden unit: on the vad CRNN (batch 32, 100
  steps, one thread) a DCL training step costs about what a dense one does, where the unrolled
  loop cost 3.4×.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

PINNED = 1e4
"""A gate pre-activation whose sigmoid is exactly 0 (−) or 1 (+) in float32 and float64, gradient 0."""
_BLOCKS = {"GRU": 3, "LSTM": 4}
_CARRIER_BIASES = {"GRU": {1: -PINNED}, "LSTM": {0: PINNED, 1: -PINNED, 3: PINNED}}
"""Per mode, the carrier's pinned gate blocks: GRU z shut; LSTM input open, forget shut, output open."""
_CARRIER_INPUT = 2
"""The gate block the carrier's input drives: the GRU's candidate n, the LSTM's cell input g."""


@dataclass(frozen=True)
class RecurrentBlend:
    """A gate that adds fresh noise to one channel at every step: gate(h_t) = scale ⊙ h_t + e_index·coefficient·ν_t."""

    scale: torch.Tensor
    """s, one factor per channel (differentiable)."""
    index: int
    """f, the channel that carries the noise."""
    coefficient: torch.Tensor
    """c, the noise's weight: a scalar (differentiable)."""
    noise: Callable[[torch.Tensor], torch.Tensor]
    """Draws ν shaped like its argument, (batch, time): one value per sequence and step."""
    observe: Callable[[torch.Tensor], None]
    """Receives channel f's ungated state at every step, (batch, time), detached, after the run (for
    a gate that keeps statistics of it)."""


def gated_rnn(rnn: nn.GRU | nn.LSTM, x: torch.Tensor, gate: nn.Module) -> torch.Tensor:
    """Output sequence (batch, time, hidden) of a batch-first `rnn` on `x` from a zero state, each
    step's hidden state passed through `gate` (channel axis -1) before the recurrence and the output
    read it.

    `gate.channel_scale()` (a per-channel factor, or None) and `gate.recurrent_blend(first_state)`
    (a `RecurrentBlend`, or None; `first_state()` gives the ungated state of the first step,
    (batch, hidden), for a gate that needs statistics before the run) select the fused kernel; a
    gate with neither runs `unrolled_rnn`."""
    if isinstance(gate, nn.Identity):
        return rnn(x)[0]
    _check_supported(rnn)
    channel_scale = getattr(gate, "channel_scale", None)
    scale = channel_scale() if channel_scale is not None else None
    if scale is not None:
        return _fused(rnn, x, scale.to(x)) * scale.to(x)
    recurrent_blend = getattr(gate, "recurrent_blend", None)
    blend = recurrent_blend(lambda: first_state(rnn, x)) if recurrent_blend is not None else None
    if blend is not None:
        return blended_rnn(rnn, x, blend)
    return unrolled_rnn(rnn, x, gate)


def first_state(rnn: nn.GRU | nn.LSTM, x: torch.Tensor) -> torch.Tensor:
    """The state after the first step from a zero state (no gate reads it yet), detached."""
    with torch.no_grad():
        return _fused(rnn, x[:, :1], x.new_ones(rnn.hidden_size))[:, 0]


def blended_rnn(rnn: nn.GRU | nn.LSTM, x: torch.Tensor, blend: RecurrentBlend) -> torch.Tensor:
    """`gated_rnn` for a gate that blends channel `blend.index` with fresh noise at every step, on the
    fused kernel with a carrier unit (module docstring); draws the noise, then calls `blend.observe`."""
    _check_supported(rnn)
    batch, steps, _ = x.shape
    hidden, f = rnn.hidden_size, blend.index
    noise = blend.noise(x.new_empty(batch, steps)).to(x)
    bound = 2 * noise.detach().abs().max().clamp_min(1.0)
    ratio = noise / bound
    drive = torch.atanh(ratio) if rnn.mode == "GRU" else torch.atanh(torch.atanh(ratio))
    scale, carried = blend.scale.to(x), blend.coefficient.to(x) * bound
    states = _fused_with_carrier(rnn, torch.cat([x, drive.unsqueeze(-1)], dim=-1), scale, carried, f)
    blend.observe(states[..., f].detach())
    channel = torch.zeros_like(scale)
    channel[f] = 1.0
    return torch.addcmul(states[..., :hidden] * scale, states[..., hidden:], carried * channel)


def unrolled_rnn(rnn: nn.GRU | nn.LSTM, x: torch.Tensor, gate: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """`gated_rnn` with the recurrence unrolled in Python on the RNN's own parameters: any gate, one
    call per step (the reference the fused paths are tested against; several times slower)."""
    _check_supported(rnn)
    blocks, hidden = _BLOCKS[rnn.mode], rnn.hidden_size
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
    """The fused kernel with `weight_hh`'s columns scaled: the recurrence reads the state times `scale`."""
    weights = [rnn.get_parameter("weight_ih_l0"), rnn.get_parameter("weight_hh_l0") * scale]
    weights += [rnn.get_parameter("bias_ih_l0"), rnn.get_parameter("bias_hh_l0")] if rnn.bias else []
    return _kernel(rnn, x, weights, rnn.bias, rnn.hidden_size)


def _fused_with_carrier(
    rnn: nn.GRU | nn.LSTM, x: torch.Tensor, scale: torch.Tensor, carried: torch.Tensor, index: int
) -> torch.Tensor:
    """The fused kernel on `x` (the last input channel drives the carrier) with one carrier unit appended
    (the last hidden unit), `weight_hh`'s columns scaled by `scale` and the carrier's column
    `carried`·`weight_hh`[:, index]. Returns the states (batch, time, hidden + 1)."""
    blocks, hidden = _BLOCKS[rnn.mode], rnn.hidden_size
    weight_ih = rnn.get_parameter("weight_ih_l0").view(blocks, hidden, -1)
    weight_ih = nn.functional.pad(weight_ih, (0, 1, 0, 1))  # the carrier's row, its input's column
    weight_ih[_CARRIER_INPUT, hidden, -1] = 1.0
    weight_hh = rnn.get_parameter("weight_hh_l0").view(blocks, hidden, hidden)
    weight_hh = torch.cat([weight_hh * scale, weight_hh[:, :, index : index + 1] * carried], dim=-1)
    weight_hh = nn.functional.pad(weight_hh, (0, 0, 0, 1))  # the carrier reads no state
    if rnn.bias:
        bias_ih = rnn.get_parameter("bias_ih_l0").view(blocks, hidden)
        bias_hh = rnn.get_parameter("bias_hh_l0").view(blocks, hidden)
    else:
        bias_ih = bias_hh = x.new_zeros(blocks, hidden)
    bias_ih, bias_hh = nn.functional.pad(bias_ih, (0, 1)), nn.functional.pad(bias_hh, (0, 1))
    for block, pinned in _CARRIER_BIASES[rnn.mode].items():
        bias_ih[block, hidden] = pinned
    weights = [w.reshape(blocks * (hidden + 1), -1) for w in (weight_ih, weight_hh)]
    weights += [b.reshape(-1) for b in (bias_ih, bias_hh)]
    return _kernel(rnn, x, weights, True, hidden + 1)


def _kernel(
    rnn: nn.GRU | nn.LSTM, x: torch.Tensor, weights: list[torch.Tensor], bias: bool, hidden: int
) -> torch.Tensor:
    zeros = x.new_zeros(1, x.shape[0], hidden)
    if rnn.mode == "GRU":
        return torch._VF.gru(x, zeros, weights, bias, 1, 0.0, rnn.training, False, True)[0]
    return torch._VF.lstm(x, (zeros, zeros), weights, bias, 1, 0.0, rnn.training, False, True)[0]


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
