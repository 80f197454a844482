"""A user's own small anti-spoofing CNN: any feature count, two logits (spoof, bona fide) per utterance."""

import torch
from torch import nn


class SpoofCNN(nn.Module):
    def __init__(self, channels: int = 8) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(1, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU())
        self.conv2 = nn.Sequential(nn.Conv2d(channels, channels, 3, stride=2, padding=1), nn.ReLU())
        self.score = nn.Linear(channels, 2)

    def forward(self, features: torch.Tensor) -> torch.Tensor:  # (batch, features, frames)
        x = self.conv2(self.conv1(features.unsqueeze(1)))
        return self.score(x.mean(dim=(2, 3)))  # (batch, 2): spoof, bona fide logits


def build() -> nn.Module:
    return SpoofCNN()
