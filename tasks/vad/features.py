"""Audio front end shared by the data pipeline, the models and the peers.

The data pipeline turns 16 kHz audio into a power spectrogram (25 ms Hann window, 10 ms hop);
the models own the rest (a fixed 80-band mel filterbank as a matrix product, then the log), so the
MACs of the mel projection are counted and shrink with the number of bands a model keeps.

Framing: frame t covers samples [160·t, 160·t + 160), and its 400-sample window is centred on that
hop (the signal is zero-padded by 120 samples on each side), so N samples (a multiple of 160) give
exactly N / 160 frames and a frame's label is the speech activity of its own 10 ms.
"""

from __future__ import annotations

import numpy as np
import torch

SAMPLE_RATE = 16_000
HOP = 160
"""10 ms at 16 kHz: one frame, one label."""
N_FFT = 400
"""25 ms analysis window."""
N_FREQ = N_FFT // 2 + 1
N_MELS = 80
PAD = (N_FFT - HOP) // 2
MIN_SAMPLES = N_FFT
"""A clip shorter than one analysis window cannot be framed; readers skip it (and count it)."""


def frames_of(n_samples: int) -> int:
    """Number of 10 ms frames of a signal of `n_samples` (a partial last hop is dropped)."""
    return n_samples // HOP


def power_spectrogram(audio: torch.Tensor | np.ndarray) -> torch.Tensor:
    """(..., samples) -> (..., N_FREQ, frames) power spectrogram on the task's frame grid."""
    x = torch.as_tensor(np.asarray(audio, dtype=np.float32) if isinstance(audio, np.ndarray) else audio)
    n = frames_of(x.shape[-1]) * HOP
    x = torch.nn.functional.pad(x[..., :n], (PAD, PAD))
    shape = x.shape[:-1]
    spec = torch.stft(
        x.reshape(-1, x.shape[-1]),
        n_fft=N_FFT,
        hop_length=HOP,
        window=torch.hann_window(N_FFT),
        center=False,
        return_complex=True,
    )
    return spec.abs().square().reshape(*shape, N_FREQ, -1)


def mel_filterbank(n_mels: int = N_MELS) -> torch.Tensor:
    """(N_FREQ, n_mels) HTK mel filterbank over 0–8 kHz (torchaudio); column k is band k."""
    import torchaudio

    return torchaudio.functional.melscale_fbanks(N_FREQ, 0.0, SAMPLE_RATE / 2, n_mels, SAMPLE_RATE)
