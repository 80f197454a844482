"""Audio loading and the spectral front end (LFCC or log power spectrogram), in the data pipeline.

The front end runs on the data side, once per utterance, and the model sees the feature map: it
is the same for every width and every method, `aten::stft` has no MAC handle, and caching the
features in memory is what makes a CPU training run take seconds. Reported MACs are therefore
those of the network on one utterance's features; the front end's own cost (an STFT, the same for
every model and method) is not counted.

Every utterance is brought to a fixed length of 64,600 samples (≈ 4 s, the crop AASIST uses):
longer clips keep their first 64,600 samples, shorter ones are tiled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tradeoff_bench.tasks.audio import AudioError as AudioError  # re-exported: the corpus reader raises it too

SAMPLE_RATE = 16_000
UTTERANCE_SAMPLES = 64_600


def read_audio(path: Path) -> np.ndarray:
    """16 kHz mono float32 samples of a FLAC file; a clear error naming the file otherwise."""
    import soundfile

    try:
        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except Exception as err:  # libsndfile's own errors do not always name the file
        raise AudioError(f"unreadable audio file {path}: {err}") from None
    if rate != SAMPLE_RATE:
        raise AudioError(f"{path}: sample rate {rate} Hz, expected {SAMPLE_RATE} Hz")
    if samples.shape[1] != 1:
        raise AudioError(f"{path}: {samples.shape[1]} channels, expected mono")
    if samples.shape[0] == 0:
        raise AudioError(f"{path}: no samples")
    return samples[:, 0]


def fix_length(samples: np.ndarray, length: int = UTTERANCE_SAMPLES) -> np.ndarray:
    """The first `length` samples; a shorter clip is tiled (repeated) up to `length`."""
    if samples.shape[0] >= length:
        return samples[:length]
    repeats = -(-length // samples.shape[0])
    return np.tile(samples, repeats)[:length]


@dataclass(frozen=True)
class FrontEnd:
    """LFCC (linear-frequency cepstra with Δ and ΔΔ, as the ASVspoof 2019 baseline) or log spectrum."""

    kind: str = "lfcc"  # "lfcc" | "logspec"
    n_lfcc: int = 20
    n_fft: int = 512
    win_length: int = 320  # 20 ms
    hop_length: int = 160  # 10 ms

    def __post_init__(self) -> None:
        if self.kind not in ("lfcc", "logspec"):
            raise ValueError(f"front end must be 'lfcc' or 'logspec', got {self.kind!r}")

    @property
    def n_features(self) -> int:
        return 3 * self.n_lfcc if self.kind == "lfcc" else self.n_fft // 2 + 1

    @property
    def n_frames(self) -> int:
        return UTTERANCE_SAMPLES // self.hop_length + 1

    def __call__(self, waves: torch.Tensor) -> torch.Tensor:
        """(batch, 64,600) samples -> (batch, features, frames) float32."""
        import torchaudio.functional as AF

        window = torch.hann_window(self.win_length, device=waves.device)
        spec = torch.stft(waves, self.n_fft, self.hop_length, self.win_length, window, return_complex=True).abs().pow(2)
        if self.kind == "logspec":
            return torch.log(spec + 1e-10)
        n_freqs = self.n_fft // 2 + 1
        bank = AF.linear_fbanks(n_freqs, 0.0, SAMPLE_RATE / 2, self.n_lfcc, SAMPLE_RATE).to(waves.device)
        energies = torch.log(torch.matmul(spec.transpose(1, 2), bank) + 1e-10)  # (batch, frames, bands)
        dct = AF.create_dct(self.n_lfcc, self.n_lfcc, "ortho").to(waves.device)
        cepstra = torch.matmul(energies, dct).transpose(1, 2)  # (batch, coefficients, frames)
        delta = AF.compute_deltas(cepstra)
        return torch.cat([cepstra, delta, AF.compute_deltas(delta)], dim=1)

    def example(self) -> torch.Tensor:
        """The features of one utterance, as a batch of one (zeros: MACs do not depend on values)."""
        return torch.zeros(1, self.n_features, self.n_frames)


def featurize(paths: list[Path], front_end: FrontEnd, batch: int = 64) -> torch.Tensor:
    """Features of every file, (count, features, frames) float32, in order."""
    out = torch.empty(len(paths), front_end.n_features, front_end.n_frames)
    for start in range(0, len(paths), batch):
        chunk = paths[start : start + batch]
        waves = torch.from_numpy(np.stack([fix_length(read_audio(p)) for p in chunk]))
        with torch.no_grad():
            out[start : start + len(chunk)] = front_end(waves)
    return out
