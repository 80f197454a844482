"""vad's built-in Transformer family written as a user would, plain PyTorch: torchaudio's MelScale,
a convolution front, post-norm blocks of single-head attention in 1 s windows (a fixed scale) with
BatchNorms over the channels, and a head. Its knobs are found automatically; attention's query, key
and value are one group, gated at their outputs (tests/tasks/test_user_model.py)."""

import math

import torch
import torchaudio
from torch import nn

WINDOW = 100


class Block(nn.Module):
    def __init__(self, d: int, ffn: int, scale: float) -> None:
        super().__init__()
        self.scale = scale
        self.query, self.key, self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.out = nn.Linear(d, d)
        self.norm1 = nn.BatchNorm1d(d)
        self.ffn_in, self.ffn_out = nn.Linear(d, ffn), nn.Linear(ffn, d)
        self.norm2 = nn.BatchNorm1d(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1((x + self.out(self.attend(x))).transpose(1, 2)).transpose(1, 2)
        y = self.ffn_out(torch.relu(self.ffn_in(h)))
        return self.norm2((h + y).transpose(1, 2)).transpose(1, 2)

    def attend(self, x: torch.Tensor) -> torch.Tensor:
        batch, steps, width = x.shape
        windows = math.ceil(steps / WINDOW)
        padded = windows * WINDOW
        if padded != steps:
            x = nn.functional.pad(x, (0, 0, 0, padded - steps))
        x = x.reshape(batch * windows, WINDOW, width)
        q, k, v = self.query(x) * self.scale, self.key(x), self.value(x)
        scores = torch.matmul(q, k.transpose(1, 2))
        if padded != steps:
            valid = torch.arange(WINDOW) < steps - (windows - 1) * WINDOW
            last = torch.arange(batch * windows) % windows == windows - 1
            scores = scores.masked_fill(last.view(-1, 1, 1) & ~valid.view(1, 1, -1), float("-inf"))
        context = torch.matmul(torch.softmax(scores, dim=-1), v)
        return context.reshape(batch, padded, -1)[:, :steps]


class Transformer(nn.Module):
    def __init__(self, d: int = 32, ffn: int = 64, layers: int = 2) -> None:
        super().__init__()
        self.mel = torchaudio.transforms.MelScale(n_mels=80, sample_rate=16000, n_stft=201, mel_scale="htk")
        self.mel_norm = nn.BatchNorm1d(80)
        self.front = nn.Sequential(nn.Conv1d(80, d, 3, padding=1, bias=False), nn.BatchNorm1d(d), nn.ReLU())
        self.blocks = nn.ModuleList(Block(d, ffn, 1 / math.sqrt(d)) for _ in range(layers))
        self.head = nn.Linear(d, 1)

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        x = self.front(self.mel_norm(torch.log(self.mel(power) + 1e-6))).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        return self.head(x).squeeze(-1)


def build() -> nn.Module:
    return Transformer()
