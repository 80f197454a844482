"""vad's built-in paper-crnn family (the paper's CRNN at 1/16 of its convolutions, projection and
GRU) written as a user would, plain PyTorch: torchaudio's MelScale, 2-D convolutions over (band,
time), a projection of each frame's band features, a GRU and a head."""

import torch
import torchaudio
from torch import nn

BANDS = 80


def conv_block(width_in: int, width_out: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(width_in, width_out, kernel, padding=kernel // 2, bias=False), nn.BatchNorm2d(width_out), nn.ReLU()
    )


class PaperCRNN(nn.Module):
    def __init__(self, conv: int = 8, mid: int = 8, projection: int = 7, gru: int = 22) -> None:
        super().__init__()
        self.mel = torchaudio.transforms.MelScale(n_mels=BANDS, sample_rate=16000, n_stft=201, mel_scale="htk")
        self.mel_norm = nn.BatchNorm1d(BANDS)
        self.convs = nn.Sequential(conv_block(1, conv, 3), conv_block(conv, mid, 3), conv_block(mid, 2, 1))
        self.project = nn.Linear(2 * BANDS, projection)
        self.gru = nn.GRU(projection, gru, batch_first=True)
        self.head = nn.Linear(gru, 1)

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        x = self.mel_norm(torch.log(self.mel(power) + 1e-6)).unsqueeze(1)  # (B, 1, K, T)
        frames = self.convs(x).permute(0, 3, 2, 1).flatten(2)  # (B, T, K·2)
        return self.head(self.gru(self.project(frames))[0]).squeeze(-1)


def build() -> nn.Module:
    return PaperCRNN()
