"""A user's own small convolutional-recurrent VAD, plain PyTorch: its GRU's hidden size is a knob."""

import torch
from torch import nn


class FrameGRU(nn.Module):
    def __init__(self, features: int = 201, conv: int = 12, hidden: int = 10) -> None:
        super().__init__()
        self.front = nn.Sequential(nn.Conv1d(features, conv, 3, padding=1), nn.BatchNorm1d(conv), nn.ReLU())
        self.gru = nn.GRU(conv, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        frames = self.front(torch.log1p(power)).transpose(1, 2)
        states, _ = self.gru(frames)
        return self.head(states).squeeze(-1)


def build() -> nn.Module:
    return FrameGRU()
