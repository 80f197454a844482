"""vad's built-in CRNN family written as a user would, plain PyTorch: torchaudio's MelScale for the
mel bands, two convolution blocks, a GRU and a head (tests/tasks/test_user_model.py checks that the
knobs found on it are the hand-declared ones and that fvcore's MACs agree at every width)."""

import torch
import torchaudio
from torch import nn


class CRNN(nn.Module):
    def __init__(self, conv: int = 32, gru: int = 32) -> None:
        super().__init__()
        self.mel = torchaudio.transforms.MelScale(n_mels=80, sample_rate=16000, n_stft=201, mel_scale="htk")
        self.norm = nn.BatchNorm1d(80)
        self.conv1 = nn.Sequential(nn.Conv1d(80, conv, 5, padding=2, bias=False), nn.BatchNorm1d(conv), nn.ReLU())
        self.conv2 = nn.Sequential(nn.Conv1d(conv, conv, 3, padding=1, bias=False), nn.BatchNorm1d(conv), nn.ReLU())
        self.gru = nn.GRU(conv, gru, batch_first=True)
        self.head = nn.Linear(gru, 1)

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        x = self.norm(torch.log(self.mel(power) + 1e-6))
        x = self.conv2(self.conv1(x))
        return self.head(self.gru(x.transpose(1, 2))[0]).squeeze(-1)


def build() -> nn.Module:
    return CRNN()
