"""A VAD model on audio files: per-frame speech probabilities (CSV) and speech segments (RTTM).

Audio of any rate and channel count is mixed to mono and resampled to 16 kHz, then framed as in
training (10 ms frames, `tasks.vad.features`). Long files run in chunks of `CHUNK_SECONDS`, so a
Transformer's attention stays bounded. A frame is speech when its probability is at least
`threshold`; consecutive speech frames form one RTTM segment
(`SPEAKER <file> 1 <onset s> <duration s> <NA> <NA> speech <NA> <NA>`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tradeoff_bench.core.files import write_all
from tradeoff_bench.tasks.audio import AudioError, audio_files, load_audio
from tradeoff_bench.tasks.base import model_device
from tradeoff_bench.tasks.vad.features import HOP, SAMPLE_RATE, power_spectrogram

CHUNK_SECONDS = 60
FRAME_SECONDS = HOP / SAMPLE_RATE


def predict_files(model: nn.Module, inputs: Sequence[Path], out_dir: Path, threshold: float = 0.5) -> list[Path]:
    """`<stem>.csv` (start_s, end_s, speech_probability per frame) and `<stem>.rttm` per audio file."""
    files = audio_files(inputs)
    probabilities = [speech_probabilities(model, load_audio(path, SAMPLE_RATE), path) for path in files]
    written: dict[Path, str | bytes] = {}
    for path, probs in zip(files, probabilities):
        written[out_dir / f"{path.stem}.csv"] = frame_table(probs)
        written[out_dir / f"{path.stem}.rttm"] = rttm(path.stem, speech_segments(probs >= threshold))
    return write_all(written)  # all or, on a failure (a full disk), none


@torch.no_grad()
def speech_probabilities(model: nn.Module, audio: np.ndarray, path: Path) -> np.ndarray:
    """Speech probability of every 10 ms frame of 16 kHz `audio`."""
    if len(audio) < HOP:
        raise AudioError(f"{path}: shorter than one 10 ms frame")
    model.eval()
    chunk = CHUNK_SECONDS * SAMPLE_RATE
    logits = [
        model(power_spectrogram(torch.from_numpy(audio[start : start + chunk]))[None].to(model_device(model)))[0]
        for start in range(0, len(audio), chunk)
        if len(audio) - start >= HOP
    ]
    return torch.sigmoid(torch.cat(logits).float()).cpu().numpy()


def speech_segments(speech: np.ndarray) -> list[tuple[int, int]]:
    """(first frame, frame after the last) of every run of speech frames."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], speech.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def frame_table(probabilities: np.ndarray) -> str:
    rows = [f"{t * FRAME_SECONDS:.2f},{(t + 1) * FRAME_SECONDS:.2f},{p:.6f}" for t, p in enumerate(probabilities)]
    return "start_s,end_s,speech_probability\n" + "".join(row + "\n" for row in rows)


def rttm(name: str, segments: list[tuple[int, int]]) -> str:
    return "".join(
        f"SPEAKER {name} 1 {start * FRAME_SECONDS:.2f} {(end - start) * FRAME_SECONDS:.2f} <NA> <NA> speech <NA> <NA>\n"
        for start, end in segments
    )
