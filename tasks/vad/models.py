"""The two VAD model families of the paper, on a power spectrogram, one logit per 10 ms frame.

Both start with `LogMel`: the leading K columns of a fixed 80-band mel filterbank (a buffer used by
a matrix product, so the "mels" knob keeps the K lowest bands and their MACs are counted), the log
and a per-band BatchNorm; the "mels" gate follows. Every layer is channel-major and convolves or
attends over time only (nothing pools over a knob's axis), so the MACs are a polynomial of degree
≤ 2 in the knob widths, as the DCL complexity model requires.

- `CRNN`: two Conv1d blocks over time (mel bands as channels; knob "conv"), a unidirectional GRU
  (knob "gru") and a linear head.
- `SmallTransformer`: a Conv1d front (knob "d_model"), `layers` post-norm blocks of single-head
  self-attention and a ReLU feed-forward (knob "ffn"), and a linear head. Attention runs within
  non-overlapping 1 s windows, so the cost per second of audio is the same for any input length.
  Its norms are per-channel BatchNorms and its attention scale is fixed by the full width, so the
  full model with channels ≥ w zeroed at every d_model site computes exactly the model sliced to
  width w (a LayerNorm or a width-dependent 1/√d would break that).

Gates sit in their own attributes (`*_gate`), so parameter names never depend on widths or gates.
The CRNN's "gru" gate acts inside the recurrence (`tasks.rnn.gated_rnn`): the GRU's own next step
reads the gated state, as the head does. So on every knob of both families, the full model with
channels ≥ w gated off computes exactly the model sliced to w (tests/contract/test_gating.py).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from tradeoff_bench.tasks.base import GateFactory
from tradeoff_bench.tasks.rnn import gated_rnn
from tradeoff_bench.tasks.vad.features import HOP, SAMPLE_RATE, mel_filterbank

ATTENTION_FRAMES = SAMPLE_RATE // HOP
"""Attention window of the Transformer: 1 s of frames."""
LOG_FLOOR = 1e-6


class LogMel(nn.Module):
    """(B, N_FREQ, T) power -> (B, K, T) normalised log-mel of the K lowest of 80 bands."""

    filterbank: torch.Tensor

    def __init__(self, n_mels: int) -> None:
        super().__init__()
        self.register_buffer("filterbank", mel_filterbank()[:, :n_mels].contiguous())
        self.norm = nn.BatchNorm1d(n_mels)

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        mel = torch.matmul(self.filterbank.t(), power)
        return self.norm(torch.log(mel + LOG_FLOOR))


def conv_block(width_in: int, width_out: int, kernel: int, dims: int = 1) -> nn.Sequential:
    """Convolution (1-D over time, or 2-D over band and time), BatchNorm, ReLU; same-size padding."""
    conv, norm = (nn.Conv1d, nn.BatchNorm1d) if dims == 1 else (nn.Conv2d, nn.BatchNorm2d)
    return nn.Sequential(conv(width_in, width_out, kernel, padding=kernel // 2, bias=False), norm(width_out), nn.ReLU())


class CRNN(nn.Module):
    """Conv front + GRU; widths {"mels", "conv", "gru"}."""

    def __init__(self, widths: dict[str, int], gate: GateFactory, kernel: int = 5) -> None:
        super().__init__()
        mels, conv, gru = widths["mels"], widths["conv"], widths["gru"]
        self.logmel = LogMel(mels)
        self.mel_gate = gate("mels", mels, 1)
        self.conv1 = conv_block(mels, conv, kernel)
        self.conv1_gate = gate("conv", conv, 1)
        self.conv2 = conv_block(conv, conv, 3)
        self.conv2_gate = gate("conv", conv, 1)
        self.gru = nn.GRU(conv, gru, batch_first=True)
        self.gru_gate = gate("gru", gru, -1)
        self.head = nn.Linear(gru, 1)

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        x = self.mel_gate(self.logmel(power))
        x = self.conv1_gate(self.conv1(x))
        x = self.conv2_gate(self.conv2(x))
        return self.head(gated_rnn(self.gru, x.transpose(1, 2), self.gru_gate)).squeeze(-1)


class _ChannelNorm(nn.BatchNorm1d):
    """BatchNorm over the last axis of (B, T, D): per channel, so zeroed channels stay separate."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class _Block(nn.Module):
    """Post-norm block: single-head attention in 1 s windows, then a ReLU feed-forward."""

    def __init__(self, d_model: int, ffn: int, gate: GateFactory, scale: float) -> None:
        super().__init__()
        self.scale = scale
        self.query, self.key, self.value = (nn.Linear(d_model, d_model) for _ in range(3))
        self.query_gate, self.key_gate, self.value_gate = (gate("d_model", d_model, -1) for _ in range(3))
        self.out = nn.Linear(d_model, d_model)
        self.norm1 = _ChannelNorm(d_model)
        self.attn_gate = gate("d_model", d_model, -1)
        self.ffn_in = nn.Linear(d_model, ffn)
        self.ffn_gate = gate("ffn", ffn, -1)
        self.ffn_out = nn.Linear(ffn, d_model)
        self.norm2 = _ChannelNorm(d_model)
        self.block_gate = gate("d_model", d_model, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.attn_gate(self.norm1(x + self.out(self._attend(x))))
        y = self.ffn_out(self.ffn_gate(torch.relu(self.ffn_in(h))))
        return self.block_gate(self.norm2(h + y))

    def _attend(self, x: torch.Tensor) -> torch.Tensor:
        batch, steps, width = x.shape
        windows = math.ceil(steps / ATTENTION_FRAMES)
        padded = windows * ATTENTION_FRAMES
        if padded != steps:
            x = nn.functional.pad(x, (0, 0, 0, padded - steps))
        x = x.reshape(batch * windows, ATTENTION_FRAMES, width)
        q = self.query_gate(self.query(x)) * self.scale
        k = self.key_gate(self.key(x))
        v = self.value_gate(self.value(x))
        scores = torch.matmul(q, k.transpose(1, 2))
        if padded != steps:  # padded frames of the last window are never attended to
            valid = torch.arange(ATTENTION_FRAMES, device=x.device) < steps - (windows - 1) * ATTENTION_FRAMES
            last = torch.arange(batch * windows, device=x.device) % windows == windows - 1
            scores = scores.masked_fill(last.view(-1, 1, 1) & ~valid.view(1, 1, -1), float("-inf"))
        context = torch.matmul(torch.softmax(scores, dim=-1), v)
        return context.reshape(batch, padded, -1)[:, :steps]  # -1: the values' width, which pruning may change


class SmallTransformer(nn.Module):
    """Conv front + attention blocks; widths {"mels", "d_model", "ffn"}.

    `full_d_model` fixes the attention scale 1/√full_d_model for every width.
    """

    def __init__(self, widths: dict[str, int], gate: GateFactory, full_d_model: int, layers: int = 2) -> None:
        super().__init__()
        mels, d_model, ffn = widths["mels"], widths["d_model"], widths["ffn"]
        self.logmel = LogMel(mels)
        self.mel_gate = gate("mels", mels, 1)
        self.front = conv_block(mels, d_model, 3)
        self.front_gate = gate("d_model", d_model, 1)
        scale = 1 / math.sqrt(full_d_model)
        self.blocks = nn.ModuleList(_Block(d_model, ffn, gate, scale) for _ in range(layers))
        self.head = nn.Linear(d_model, 1)

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        x = self.mel_gate(self.logmel(power))
        x = self.front_gate(self.front(x)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        return self.head(x).squeeze(-1)
