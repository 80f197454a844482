"""torchaudio's DeepSpeech with two classes: the frame logit is the log-probability difference."""

import torch
from torch import nn
from torchaudio.models import DeepSpeech


class DeepSpeechVAD(nn.Module):
    def __init__(self, features: int = 201, hidden: int = 12) -> None:
        super().__init__()
        self.model = DeepSpeech(n_feature=features, n_hidden=hidden, n_class=2)

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        log_probs = self.model(torch.log1p(power).transpose(1, 2).unsqueeze(1))  # (batch, frames, 2)
        return log_probs[..., 1] - log_probs[..., 0]


def build() -> nn.Module:
    return DeepSpeechVAD()
