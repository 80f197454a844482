"""vad's built-in paper-transformer family (the paper's Transformer, model width = the band count)
written as a user would, plain PyTorch: torchaudio's MelScale, a projection, a depthwise convolution
as position encoding, post-norm blocks of single-head attention in 1 s windows (a scale fixed by the
full width) with BatchNorms over the channels and a feed-forward of 3K, and a two-way head. The
residual stream ties every layer to the mel bands: the graph finds one group for the stream and one
per feed-forward (tests/tasks/test_user_model.py)."""

import math

import torch
import torchaudio
from torch import nn

from tests.user_models.plain_transformer import Block

BANDS = 80


class PaperTransformer(nn.Module):
    def __init__(self, layers: int = 2) -> None:
        super().__init__()
        self.mel = torchaudio.transforms.MelScale(n_mels=BANDS, sample_rate=16000, n_stft=201, mel_scale="htk")
        self.mel_norm = nn.BatchNorm1d(BANDS)
        self.project = nn.Linear(BANDS, BANDS)
        self.position = nn.Conv1d(BANDS, BANDS, 17, padding=8, groups=BANDS, bias=False)
        self.blocks = nn.ModuleList(Block(BANDS, 3 * BANDS, 1 / math.sqrt(BANDS)) for _ in range(layers))
        self.head = nn.Linear(BANDS, 2)

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        x = self.mel_norm(torch.log(self.mel(power) + 1e-6)).transpose(1, 2)
        x = self.project(x).transpose(1, 2)
        x = (x + self.position(x)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        logits = self.head(x)
        return logits[..., 1] - logits[..., 0]


def build() -> nn.Module:
    return PaperTransformer()
