"""A user's own small convolutional VAD, plain PyTorch."""

import torch
from torch import nn


class FrameConv(nn.Module):
    def __init__(self, features: int = 201, hidden: int = 12) -> None:
        super().__init__()
        self.front = nn.Sequential(nn.Conv1d(features, hidden, 3, padding=1), nn.BatchNorm1d(hidden), nn.ReLU())
        self.body = nn.Sequential(nn.Conv1d(hidden, hidden, 5, padding=2), nn.ReLU())
        self.head = nn.Linear(hidden, 1)

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        x = self.body(self.front(torch.log1p(power)))
        return self.head(x.transpose(1, 2)).squeeze(-1)


def build() -> nn.Module:
    return FrameConv()
