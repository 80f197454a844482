"""The paper's two VAD model families, inferred from its published parameter counts and costs.

Gómez & Bäckström (arXiv 2601.13704, Table "VAD") publish, per number K of mel bands, each model's
parameter count and cost ("MFLOP/s"), but not its layout. These families reproduce the counts
within 1 % at K = 80 / 40 / 20 / 12 and the costs' fall with K (README, "The paper's models");
the layout below is what the counts imply, not the authors' code.

`PaperTransformer` (`model=paper-transformer`): the paper's counts 138,082 / 35,442 / 9,322 at
80 / 40 / 20 bands are exactly 21K² + 46K + 2, so the model width is the band count: a DCL on the
mels shrinks the whole network, and "mels" is its only knob. The K² term fixes the matrices:
2 encoder layers × (4K² attention + 2·3K² feed-forward of width 3K) + a K×K input projection = 21K²
(one layer with a feed-forward of 8K also gives 20K²; two layers of 3K is the more usual shape). The
constant 2 is a two-way output layer (speech / non-speech; the logit is their difference). The
K term collects the per-channel vectors: the input norm 2K, the projection's bias K, per layer the
attention's 4 biases 4K, the feed-forward's 3K + K and 2 norms 4K (24K for two layers), the output
layer 2K: 29K. The remaining 17K is one K-vector per channel and tap of a depthwise convolution
over 17 frames (170 ms) added to the projected input: a convolutional position encoding, which
attention needs and which is the usual per-channel layer with that many parameters (its kernel
is the one free choice the counts leave). So params(K) = 21K² + 46K + 2 exactly.
Attention is single-head in 1 s windows, as in `SmallTransformer` (the head count changes no
parameter count), with per-channel BatchNorms and a scale fixed by the full width, so gating
channels off is exactly slicing (a LayerNorm or a per-head split would not be). The feed-forward's
3K units are three groups of K, each gated by the mels gate, so every tensor is sliced by leading
channels.

`PaperCRNN` (`model=paper-crnn`): the counts 673,873 / 664,512 / 659,714 / 657,794 at
80 / 40 / 20 / 12 bands grow by ≈ 240 parameters per band, so about 97 % of the parameters do
not depend on K, while the costs 2.25 / 1.18 / 0.64 / 0.42 fall almost in proportion to K (a
linear fit leaves ≈ 4.5 % of the cost at K = 0). A layer whose weights depend on K costs per frame
what it weighs, so most of the cost must come from weights shared across bands: 2-D convolutions
over (band, time). And the band-independent parameters (a recurrent layer, which runs every frame)
must cost far less than the convolutions. Inferred layout:

- log-mel of K bands with a per-band BatchNorm (2 parameters per band);
- Conv2d 1 → `conv` (3×3) and `conv` → 120 (3×3), each with BatchNorm and ReLU, then a 1×1
  Conv2d 120 → 2: weights shared over the bands, MACs 9·(conv + 120·conv) + 240 per band and frame;
- the 2 × K features of a frame (band-major) → Linear(2K, 119): with the norm, 240 weights per band;
- a GRU of `gru` (360) units and a linear head.

At conv = 120, gru = 360 that gives 670,564 / 660,964 / 656,164 / 654,244 parameters (−0.49 % to
−0.54 % of the paper's) and MAC fractions 0.523 / 0.285 / 0.190 of the 80-band model at 40 / 20 / 12
bands (paper: 0.524 / 0.284 / 0.187). The paper's "MFLOP/s" normalisation is unknown: compare
fractions. At 80 bands this CRNN costs 1.1 GMAC per second of audio: a model for a GPU (the
task's `paper_width` scales its convolutions, projection and GRU for CPU runs and tests). Its knobs
are "mels", "conv" (the first convolution's channels) and "gru"; the second convolution's channels
are not a knob, so the MACs stay a polynomial of degree 2 in the knobs (two channel knobs of a
convolution over the bands would make a cubic term, which the DCL cost model fits at a higher price).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from tradeoff_bench.tasks.base import GateFactory
from tradeoff_bench.tasks.rnn import gated_rnn
from tradeoff_bench.tasks.vad.models import LogMel, _Block, _ChannelNorm, conv_block

CRNN_CONV = 120
"""Channels of the paper CRNN's first convolution (the `conv` knob's full width)."""
CRNN_MID = 120
"""Channels of its second convolution (not a knob)."""
CRNN_BAND_CHANNELS = 2
"""Channels per band that the convolutions hand to the band projection."""
CRNN_PROJECTION = 119
"""Outputs of the band projection: with the band's norm (2), 2 channels × 119 make 240 weights per band."""
CRNN_GRU = 360
TRANSFORMER_LAYERS = 2
TRANSFORMER_FFN_GROUPS = 3
"""The feed-forward width in units of the model width K."""
POSITION_KERNEL = 17
"""Frames of the depthwise convolution that encodes position (170 ms)."""


class PaperCRNN(nn.Module):
    """2-D conv front over (band, time) + band projection + GRU; widths {"mels", "conv", "gru"}."""

    def __init__(
        self, widths: dict[str, int], gate: GateFactory, mid: int = CRNN_MID, projection: int = CRNN_PROJECTION
    ) -> None:
        super().__init__()
        mels, conv, gru = widths["mels"], widths["conv"], widths["gru"]
        self.logmel = LogMel(mels)
        self.mel_gate = gate("mels", mels, 1)
        self.conv1 = conv_block(1, conv, 3, dims=2)
        self.conv1_gate = gate("conv", conv, 1)
        self.conv1_band_gate = gate("mels", mels, 2)
        self.conv2 = conv_block(conv, mid, 3, dims=2)
        self.conv2_band_gate = gate("mels", mels, 2)
        self.conv3 = conv_block(mid, CRNN_BAND_CHANNELS, 1, dims=2)
        self.conv3_band_gate = gate("mels", mels, 2)
        self.project = nn.Linear(mels * CRNN_BAND_CHANNELS, projection)
        self.gru = nn.GRU(projection, gru, batch_first=True)
        self.gru_gate = gate("gru", gru, -1)
        self.head = nn.Linear(gru, 1)

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        x = self.mel_gate(self.logmel(power)).unsqueeze(1)  # (B, 1, K, T)
        x = self.conv1_band_gate(self.conv1_gate(self.conv1(x)))
        x = self.conv2_band_gate(self.conv2(x))
        x = self.conv3_band_gate(self.conv3(x))  # (B, 2, K, T)
        frames = x.permute(0, 3, 2, 1).flatten(2)  # (B, T, K·2), band-major: a band's features lead
        return self.head(gated_rnn(self.gru, self.project(frames), self.gru_gate)).squeeze(-1)


class _GroupedFeedForward(nn.Module):
    """ReLU feed-forward K -> groups·K -> K as `groups` K×K pairs, each hidden group gated by the knob."""

    def __init__(self, width: int, groups: int, gate: GateFactory, knob: str) -> None:
        super().__init__()
        self.inner = nn.ModuleList(nn.Linear(width, width) for _ in range(groups))
        self.gates = nn.ModuleList(gate(knob, width, -1) for _ in range(groups))
        self.outer = nn.ModuleList(nn.Linear(width, width, bias=i == 0) for i in range(groups))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = [out(g(torch.relu(inner(x)))) for inner, g, out in zip(self.inner, self.gates, self.outer)]
        return torch.stack(parts).sum(0)


class _PaperBlock(_Block):
    """`_Block`'s windowed single-head attention and post-norms at width K = the band count, with a
    grouped feed-forward of 3K; every site is gated by the "mels" knob."""

    def __init__(self, width: int, gate: GateFactory, scale: float) -> None:
        nn.Module.__init__(self)
        self.scale = scale
        self.query, self.key, self.value = (nn.Linear(width, width) for _ in range(3))
        self.query_gate, self.key_gate, self.value_gate = (gate("mels", width, -1) for _ in range(3))
        self.out = nn.Linear(width, width)
        self.norm1 = _ChannelNorm(width)
        self.attn_gate = gate("mels", width, -1)
        self.ffn = _GroupedFeedForward(width, TRANSFORMER_FFN_GROUPS, gate, "mels")
        self.norm2 = _ChannelNorm(width)
        self.block_gate = gate("mels", width, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.attn_gate(self.norm1(x + self.out(self._attend(x))))
        return self.block_gate(self.norm2(h + self.ffn(h)))


class PaperTransformer(nn.Module):
    """Model width = band count; widths {"mels"}. `full_mels` fixes the attention scale 1/√full_mels."""

    def __init__(
        self, widths: dict[str, int], gate: GateFactory, full_mels: int, layers: int = TRANSFORMER_LAYERS
    ) -> None:
        super().__init__()
        mels = widths["mels"]
        self.logmel = LogMel(mels)
        self.mel_gate = gate("mels", mels, 1)
        self.project = nn.Linear(mels, mels)
        self.project_gate = gate("mels", mels, -1)
        self.position = nn.Conv1d(mels, mels, POSITION_KERNEL, padding=POSITION_KERNEL // 2, groups=mels, bias=False)
        self.position_gate = gate("mels", mels, 1)
        scale = 1 / math.sqrt(full_mels)
        self.blocks = nn.ModuleList(_PaperBlock(mels, gate, scale) for _ in range(layers))
        self.head = nn.Linear(mels, 2)

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        x = self.mel_gate(self.logmel(power)).transpose(1, 2)
        x = self.project_gate(self.project(x)).transpose(1, 2)  # (B, K, T)
        x = self.position_gate(x + self.position(x)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        logits = self.head(x)
        return logits[..., 1] - logits[..., 0]
