"""Countermeasure families with width knobs: a ResNet34-style CNN (the paper's) and an LCNN.

Both read a feature map (batch, features, frames) and return two logits (spoof, bona fide).

ResNet: the knob `stageI` is the width of residual stage I — the residual stream shared by every
block of the stage, its shortcut projection and each block's inner width (conv1 out / conv2 in);
the stem belongs to stage 1. That is the width a ResNet stage has, and it is what lets the
parameters fall quadratically (the paper's 5.4 M -> 0.5 M at κ_min 0.125 is out of reach of an
inner-width-only knob, whose parameters fall linearly: at most to ≈ 0.7 M). Gates sit after each
block's inner ReLU and after each block's output ReLU (residual sum), so a masked channel is zero
wherever a convolution reads it. The first block of stages 2–4 always has a projection shortcut
(whatever the widths), so parameter names never depend on widths. The stem is a 3×3 convolution
with a chosen stride and, optionally, ImageNet ResNet's 3×3/2 max pool: on the CPU default both
(the feature map shrinks 4× per axis before stage 1); the paper-scale model uses neither.

LCNN (Lavrentyeva et al. 2017/2019; the LFCC-LCNN of the ASVspoof 2021 baselines): each
convolution feeds a max-feature-map (MFM) that keeps the larger of a channel *pair*. Pairs are
interleaved — output i is max(conv channel 2i, conv channel 2i+1) — so the width-w layer (2w
conv channels) is exactly the full layer sliced to its leading 2w channels; `torch.chunk`'s halves
would pair i with i + w and change meaning under slicing. Knobs group a 3×3 convolution with the
1×1 (network-in-network) one that follows at the same width, as in the original design.

A gate sits after the last per-channel operation (activation, pooling, BatchNorm) before the next
channel-mixing layer, so that a gate that zeroes channels zeroes what the consumer reads.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from tradeoff_bench.tasks.base import GateFactory

RESNET_BASE_WIDTHS = (32, 64, 128, 256)
"""ImageNet ResNet34's (64, 128, 256, 512) halved: 5.4 M parameters at blocks (3, 4, 6, 3)."""
PAPER_BLOCKS = (3, 4, 6, 3)
LCNN_BASE_WIDTHS = {"block1": 32, "block2": 48, "block3": 64, "block4": 32, "block5": 32, "fc": 80}


def scaled(widths: Sequence[int], multiplier: float) -> list[int]:
    return [max(1, round(w * multiplier)) for w in widths]


# --- ResNet ---------------------------------------------------------------------------------------
class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, project: bool, knob: str, gate: GateFactory) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.gate1 = gate(knob, c_out, 1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        projection = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        self.shortcut = projection if project else nn.Identity()
        self.gate2 = gate(knob, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.gate1(torch.relu(self.bn1(self.conv1(x))))
        h = self.bn2(self.conv2(h))
        return self.gate2(torch.relu(h + self.shortcut(x)))


class ResNet(nn.Module):
    """ResNet with basic blocks on a (features × frames) map; knobs stage1..stage4."""

    def __init__(
        self, widths: dict[str, int], blocks: Sequence[int], stem_stride: int, stem_pool: bool, gate: GateFactory
    ) -> None:
        super().__init__()
        channels = [widths[f"stage{i + 1}"] for i in range(len(blocks))]
        self.stem = nn.Sequential(
            nn.Conv2d(1, channels[0], 3, stem_stride, 1, bias=False),
            nn.BatchNorm2d(channels[0]),
            nn.ReLU(),
            nn.MaxPool2d(3, 2, 1) if stem_pool else nn.Identity(),  # ImageNet ResNet's stem pooling
        )
        self.stem_gate = gate("stage1", channels[0], 1)
        stages = []
        c_in = channels[0]
        for index, (count, c_out) in enumerate(zip(blocks, channels)):
            knob, stride = f"stage{index + 1}", 1 if index == 0 else 2
            layers = [BasicBlock(c_in, c_out, stride, index > 0, knob, gate)]
            layers += [BasicBlock(c_out, c_out, 1, False, knob, gate) for _ in range(count - 1)]
            stages.append(nn.Sequential(*layers))
            c_in = c_out
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(c_in, 2)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.stem_gate(self.stem(features.unsqueeze(1)))
        return self.head(self.pool(self.stages(x)).flatten(1))


def resnet(
    widths: dict[str, int], blocks: Sequence[int], stem_stride: int, stem_pool: bool, gate: GateFactory
) -> ResNet:
    return ResNet(widths, blocks, stem_stride, stem_pool, gate)


def resnet_knobs(blocks: Sequence[int], multiplier: float) -> dict[str, int]:
    if len(blocks) != 4 or min(blocks) < 1:
        raise ValueError(f"blocks must be four positive counts (one per stage), got {list(blocks)}")
    return {f"stage{i + 1}": w for i, w in enumerate(scaled(RESNET_BASE_WIDTHS, multiplier))}


# --- LCNN -----------------------------------------------------------------------------------------
class MaxFeatureMap(nn.Module):
    """Max over interleaved channel pairs (2i, 2i+1) along `dim`: slicing-consistent (see module doc)."""

    def __init__(self, dim: int = 1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dim = self.dim % x.dim()
        return x.unflatten(dim, (x.shape[dim] // 2, 2)).amax(dim + 1)


class MFMConv(nn.Module):
    """Conv (2·width channels) -> MFM (width) -> [max pool] -> [BatchNorm] -> gate."""

    def __init__(
        self, c_in: int, width: int, kernel: int, pool: bool, norm: bool, knob: str, gate: GateFactory
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, 2 * width, kernel, padding=kernel // 2)
        self.mfm = MaxFeatureMap(1)
        self.pool = nn.MaxPool2d(2, 2, ceil_mode=True) if pool else nn.Identity()
        self.norm = nn.BatchNorm2d(width) if norm else nn.Identity()
        self.gate = gate(knob, width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gate(self.norm(self.pool(self.mfm(self.conv(x)))))


class LCNN(nn.Module):
    """Light CNN: five MFM groups, global average pooling, an MFM fully connected layer."""

    # (group knob, kernel, max pool after, BatchNorm after) for each MFM convolution
    LAYOUT = (
        ("block1", 5, True, False),
        ("block1", 1, False, True),
        ("block2", 3, True, True),
        ("block2", 1, False, True),
        ("block3", 3, True, False),
        ("block3", 1, False, True),
        ("block4", 3, False, True),
        ("block4", 1, False, True),
        ("block5", 3, True, False),
    )

    def __init__(self, widths: dict[str, int], gate: GateFactory) -> None:
        super().__init__()
        layers, c_in = [], 1
        for knob, kernel, pool, norm in self.LAYOUT:
            layers.append(MFMConv(c_in, widths[knob], kernel, pool, norm, knob, gate))
            c_in = widths[knob]
        self.body = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Linear(c_in, 2 * widths["fc"])
        self.mfm = MaxFeatureMap(-1)
        self.norm = nn.BatchNorm1d(widths["fc"])
        self.gate = gate("fc", widths["fc"], -1)
        self.fc2 = nn.Linear(widths["fc"], 2)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.body(features.unsqueeze(1))).flatten(1)
        return self.fc2(self.gate(self.norm(self.mfm(self.fc1(x)))))


def lcnn_knobs(multiplier: float) -> dict[str, int]:
    return dict(zip(LCNN_BASE_WIDTHS, scaled(list(LCNN_BASE_WIDTHS.values()), multiplier)))
