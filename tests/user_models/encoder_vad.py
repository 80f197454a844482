"""A thin wrapper that turns one of torchaudio's sequence encoders into a VAD: a linear projection of
the log spectrogram, the encoder on whole inputs, a per-frame head."""

from collections.abc import Callable

import torch
from torch import nn


class EncoderVAD(nn.Module):
    def __init__(self, encoder: Callable[[int], nn.Module], features: int = 201, dim: int = 8) -> None:
        super().__init__()
        self.project = nn.Linear(features, dim)
        self.encoder = encoder(dim)
        self.head = nn.Linear(dim, 1)

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        x = self.project(torch.log1p(power).transpose(1, 2))
        lengths = torch.full((x.shape[0],), x.shape[1], dtype=torch.long, device=x.device)
        return self.head(self.encoder(x, lengths)[0]).squeeze(-1)
