"""torchaudio's Conformer encoder, between a linear projection of the log spectrogram and a per-frame head."""

from torch import nn
from torchaudio.models import Conformer

from tests.user_models.encoder_vad import EncoderVAD


def build() -> nn.Module:
    return EncoderVAD(
        lambda dim: Conformer(input_dim=dim, num_heads=2, ffn_dim=12, num_layers=1, depthwise_conv_kernel_size=3)
    )
