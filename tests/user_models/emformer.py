"""torchaudio's Emformer (the streaming Transformer of its RNN-T recipes), between a linear projection
of the log spectrogram and a per-frame head; run on whole inputs, with no right context."""

from torch import nn
from torchaudio.models import Emformer

from tests.user_models.encoder_vad import EncoderVAD


def build() -> nn.Module:
    return EncoderVAD(lambda dim: Emformer(input_dim=dim, num_heads=2, ffn_dim=12, num_layers=1, segment_length=4))
