"""torchaudio's Emformer (the streaming Transformer of its RNN-T recipes), between a linear projection
of the log spectrogram and a per-frame head; run on whole inputs, with no right context."""

import torch
from torch import nn
from torchaudio.models import Emformer


class EmformerVAD(nn.Module):
    def __init__(self, features: int = 201, dim: int = 8) -> None:
        super().__init__()
        self.project = nn.Linear(features, dim)
        self.encoder = Emformer(input_dim=dim, num_heads=2, ffn_dim=12, num_layers=1, segment_length=4)
        self.head = nn.Linear(dim, 1)

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        x = self.project(torch.log1p(power).transpose(1, 2))
        lengths = torch.full((x.shape[0],), x.shape[1], dtype=torch.long, device=x.device)
        return self.head(self.encoder(x, lengths)[0]).squeeze(-1)


def build() -> nn.Module:
    return EmformerVAD()
