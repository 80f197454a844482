"""Spoofing "attacks" of the offline corpus: bona fide speech re-synthesised through a vocoder.

Wang & Yamagishi (ICASSP 2023) trained countermeasures on bona fide speech copy-synthesised by
vocoders; the mini corpus does the same with vocoders that run on a CPU in milliseconds. Each
`Attack` is one system with its own id. The ids keep the real corpus's ranges (A01–A06 for
train/dev, A07–A19 for eval) but name *these* systems, not the real ones; every eval attack is a
system (or a configuration of a family) never seen in train/dev, as in the real corpus.

Unlike the real corpus (whose dev partition holds only the train attacks, A01–A06), the mini
corpus's dev partition adds a held-out attack (`DEV_ATTACKS`) absent from train and eval, so that
the dev EER of a model that has learnt the train attacks is not saturated at 0 and can still select
an epoch or a schedule.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torchaudio.functional as AF

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class Attack:
    attack_id: str
    description: str
    synthesize: Callable[[np.ndarray, np.random.Generator], np.ndarray]


# --- WORLD (pyworld) -------------------------------------------------------------------------
def _world(x: np.ndarray, coded_dims: int | None, frame_period: float) -> np.ndarray:
    import pyworld

    x64 = x.astype(np.float64)
    f0, times = pyworld.dio(x64, SAMPLE_RATE, frame_period=frame_period)
    f0 = pyworld.stonemask(x64, f0, times, SAMPLE_RATE)
    envelope = pyworld.cheaptrick(x64, f0, times, SAMPLE_RATE)
    aperiodicity = pyworld.d4c(x64, f0, times, SAMPLE_RATE)
    if coded_dims is not None:  # a parametric-TTS-like vocoder: low-order envelope, coded aperiodicity
        fft_size = (envelope.shape[1] - 1) * 2
        coded = pyworld.code_spectral_envelope(envelope, SAMPLE_RATE, coded_dims)
        envelope = pyworld.decode_spectral_envelope(coded, SAMPLE_RATE, fft_size)
        coded_ap = pyworld.code_aperiodicity(aperiodicity, SAMPLE_RATE)
        aperiodicity = pyworld.decode_aperiodicity(coded_ap, SAMPLE_RATE, fft_size)
    return pyworld.synthesize(f0, envelope, aperiodicity, SAMPLE_RATE, frame_period).astype(np.float32)


def world(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """WORLD analysis-synthesis (DIO + StoneMask F0, CheapTrick envelope, D4C aperiodicity)."""
    return _world(x, None, 10.0)


def world_coded(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """WORLD with a 24-dim coded envelope and band aperiodicity, 10 ms frames."""
    return _world(x, 24, 10.0)


# --- Griffin-Lim ---------------------------------------------------------------------------------
def _frames(x: np.ndarray, n_fft: int, hop: int) -> tuple[np.ndarray, int]:
    """Centred (reflect-padded) frames of `x` as rows, and the padding."""
    pad = n_fft // 2
    padded = np.pad(x, (pad, pad + hop), mode="reflect")
    count = 1 + (len(padded) - n_fft) // hop
    index = np.arange(n_fft)[None, :] + hop * np.arange(count)[:, None]
    return padded[index], pad


def _stft(x: np.ndarray, n_fft: int, hop: int, window: np.ndarray) -> np.ndarray:
    frames, _ = _frames(x, n_fft, hop)
    return np.fft.rfft(frames * window, axis=1)


def _istft(spec: np.ndarray, n_fft: int, hop: int, window: np.ndarray, length: int) -> np.ndarray:
    """Weighted overlap-add inverse of `_stft`."""
    frames = np.fft.irfft(spec, n_fft, axis=1) * window
    out = overlap_add(frames, hop)
    norm = overlap_add(np.broadcast_to(window**2, frames.shape), hop)
    pad = n_fft // 2
    return (out / np.maximum(norm, 1e-8))[pad : pad + length]


def overlap_add(frames: np.ndarray, hop: int) -> np.ndarray:
    """Sum of rows placed `hop` apart (the frame length must be a multiple of `hop`)."""
    count, size = frames.shape
    ratio = size // hop
    if ratio * hop != size:
        raise ValueError(f"frame length {size} is not a multiple of the hop {hop}")
    out = np.zeros(size + hop * (count - 1))
    for phase in range(ratio):  # frames phase, phase + ratio, ... do not overlap: one slice each
        row = np.ascontiguousarray(frames[phase::ratio]).reshape(-1)
        out[phase * hop : phase * hop + row.size] += row
    return out


@lru_cache(maxsize=4)
def _mel_projection(n_fft: int, n_mels: int) -> tuple[np.ndarray, np.ndarray]:
    """(mel filter bank, its pseudo-inverse) for linear bins of an `n_fft` STFT."""
    bins = n_fft // 2 + 1
    bank = AF.melscale_fbanks(bins, 0.0, SAMPLE_RATE / 2, n_mels, SAMPLE_RATE, norm="slaney", mel_scale="slaney")
    bank = bank.double().numpy()
    return bank, np.linalg.pinv(bank)


def _griffin_lim(
    x: np.ndarray, n_fft: int, hop: int, n_mels: int | None, iterations: int, rng: np.random.Generator
) -> np.ndarray:
    window = np.hanning(n_fft + 1)[:-1]
    window = window.astype(np.float32)
    magnitude = np.abs(_stft(x.astype(np.float32), n_fft, hop, window))
    if n_mels is not None:  # through a mel spectrogram and back (pseudo-inverse, clamped)
        bank, inverse = _mel_projection(n_fft, n_mels)
        magnitude = np.maximum((magnitude @ bank.astype(np.float32)) @ inverse.astype(np.float32), 0.0)
    spec = magnitude * np.exp(2j * np.pi * rng.random(magnitude.shape, dtype=np.float32))
    for _ in range(iterations):
        rebuilt = _stft(_istft(spec, n_fft, hop, window, len(x)).astype(np.float32), n_fft, hop, window)
        spec = magnitude * (rebuilt / np.maximum(np.abs(rebuilt), 1e-8))  # its phase, cheaper than exp(i·angle)
    return _istft(spec, n_fft, hop, window, len(x)).astype(np.float32)


def griffin_lim_mel(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Griffin-Lim (16 iterations) from an 80-band mel spectrogram (the real corpus's A11 is Griffin-Lim)."""
    return _griffin_lim(x, 1024, 256, 80, 16, rng)


def griffin_lim_linear(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Griffin-Lim from the linear magnitude with few (8) iterations and a short window."""
    return _griffin_lim(x, 512, 128, None, 8, rng)


# --- LPC source-filter vocoder -------------------------------------------------------------------
def _lpc_coefficients(frames: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Levinson-Durbin on each frame: (a with a[:, 0] = 1, prediction-error power)."""
    n = frames.shape[1]
    spectrum = np.fft.rfft(frames, 2 * n)
    autocorr = np.fft.irfft(np.abs(spectrum) ** 2)[:, : order + 1]
    autocorr[:, 0] = autocorr[:, 0] * (1 + 1e-6) + 1e-9
    a = np.zeros((frames.shape[0], order + 1))
    a[:, 0] = 1.0
    error = autocorr[:, 0].copy()
    for i in range(1, order + 1):
        k = -(autocorr[:, i] + np.einsum("fj,fj->f", a[:, 1:i], autocorr[:, i - 1 : 0 : -1])) / error
        a[:, 1:i] = a[:, 1:i] + k[:, None] * a[:, i - 1 : 0 : -1]
        a[:, i] = k
        error = error * (1 - k**2)
    return a, np.maximum(error, 1e-12)


def _lpc(x: np.ndarray, rng: np.random.Generator, order: int, voiced_excitation: bool) -> np.ndarray:
    import pyworld

    frame, hop = 400, 200  # 25 ms frames, 50 % overlap-add with a Hann window
    padded = np.concatenate([x, np.zeros(frame)])
    count = 1 + (len(x) - 1) // hop
    index = np.arange(frame)[None, :] + hop * np.arange(count)[:, None]
    window = np.hanning(frame + 2)[1:-1]
    frames = padded[index] * window
    a, error = _lpc_coefficients(frames, order)
    gain = np.sqrt(error / frame)
    if voiced_excitation:  # impulses at the WORLD F0 where voiced, white noise elsewhere
        x64 = x.astype(np.float64)
        f0, times = pyworld.dio(x64, SAMPLE_RATE, frame_period=hop * 1000 / SAMPLE_RATE)
        f0 = np.interp(np.arange(count) * hop / SAMPLE_RATE, times, f0)
    else:  # a whispering vocoder: noise excitation throughout
        f0 = np.zeros(count)
    excitation = rng.standard_normal((count, frame))
    phase = 0.0
    for i in np.flatnonzero(f0 > 0):
        period = SAMPLE_RATE / f0[i]
        pulses = np.zeros(frame)
        positions = np.arange(phase % period, frame, period).astype(int)
        pulses[positions] = np.sqrt(period)
        excitation[i] = pulses
        phase = (phase - hop) % period
    filtered = AF.lfilter(
        torch.from_numpy(excitation * gain[:, None]),
        torch.from_numpy(a),
        torch.from_numpy(np.eye(1, order + 1).repeat(count, 0)),
        clamp=False,
        batching=True,
    ).numpy()
    return overlap_add(filtered * window, hop)[: len(x)].astype(np.float32)


def lpc_pulse(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """LPC order 16, impulse-train (voiced) or noise (unvoiced) excitation, overlap-add."""
    return _lpc(x, rng, 16, True)


def lpc_noise(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """LPC order 10 with noise excitation only (a whisper-like channel vocoder)."""
    return _lpc(x, rng, 10, False)


# --- codec round trips ------------------------------------------------------------------------
def mu_law_telephony(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """G.711-like: 8 kHz, 8-bit μ-law, back to 16 kHz."""
    wave = torch.from_numpy(x).clamp(-1.0, 1.0)
    narrow = AF.resample(wave, SAMPLE_RATE, 8_000).clamp(-1.0, 1.0)
    decoded = AF.mu_law_decoding(AF.mu_law_encoding(narrow, 256), 256)
    return AF.resample(decoded, 8_000, SAMPLE_RATE)[: len(x)].numpy().astype(np.float32)


def vorbis(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ogg Vorbis at its lowest quality, through libsndfile (soundfile)."""
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, np.clip(x, -1, 1), SAMPLE_RATE, format="OGG", subtype="VORBIS", compression_level=1.0)
    buffer.seek(0)
    decoded, _ = soundfile.read(buffer, dtype="float32")
    out = np.zeros_like(x)
    out[: min(len(x), len(decoded))] = decoded[: len(x)]
    return out


def ima_adpcm(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """IMA ADPCM (4 bits per sample at 16 kHz), through libsndfile: a waveform codec that keeps the
    full band, unlike the 8 kHz mu-law of A04, and codes no spectrum, unlike the Vorbis of A10."""
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, np.clip(x, -1, 1), SAMPLE_RATE, format="WAV", subtype="IMA_ADPCM")
    buffer.seek(0)
    decoded, _ = soundfile.read(buffer, dtype="float32")
    out = np.zeros_like(x)
    out[: min(len(x), len(decoded))] = decoded[: len(x)]
    return out


TRAIN_ATTACKS = (
    Attack("A01", "WORLD analysis-synthesis (10 ms frames)", world),
    Attack("A02", "Griffin-Lim from an 80-band mel spectrogram, 16 iterations", griffin_lim_mel),
    Attack("A03", "LPC-16 vocoder, pulse/noise excitation", lpc_pulse),
    Attack("A04", "G.711-like 8 kHz mu-law codec round trip", mu_law_telephony),
)
"""Attacks of train and dev (the real corpus: A01–A06)."""

DEV_ATTACKS = (Attack("A05", "IMA ADPCM codec round trip, 4 bits per sample at 16 kHz (full band)", ima_adpcm),)
"""Held out of train and eval, in dev only (the real corpus's dev holds A01–A06, the train attacks)."""

EVAL_ATTACKS = (
    Attack("A07", "WORLD with a 24-dim coded envelope and coded aperiodicity (10 ms frames)", world_coded),
    Attack("A08", "Griffin-Lim from the linear magnitude, 8 iterations", griffin_lim_linear),
    Attack("A09", "LPC-10 vocoder, noise excitation only", lpc_noise),
    Attack("A10", "Ogg Vorbis codec round trip at the lowest quality", vorbis),
)
"""Attacks of eval only, never seen in train or dev (the real corpus: A07–A19)."""


def attacks_of(partition: str) -> tuple[Attack, ...]:
    """The attacks of a partition of the mini corpus: train's, train's and the held-out one (dev), eval's."""
    return {"train": TRAIN_ATTACKS, "dev": TRAIN_ATTACKS + DEV_ATTACKS, "eval": EVAL_ATTACKS}[partition]
