"""Reading user audio for prediction: any WAV/FLAC, mixed to mono and resampled to the task's rate.

Light to import (numpy, soundfile and torch load on first use): the command line catches `AudioError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tradeoff_bench.core.errors import UserError

if TYPE_CHECKING:
    import numpy as np

AUDIO_SUFFIXES = (".flac", ".wav")


class AudioError(UserError, ValueError):
    """An audio file that cannot be used (unreadable, empty, too short, wrong format); names the file."""


def load_audio(path: Path, sample_rate: int) -> np.ndarray:
    """Mono float32 samples of `path` at `sample_rate` (channels averaged, then resampled)."""
    import numpy as np
    import soundfile
    import torch
    import torchaudio.functional as AF

    try:
        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except Exception as err:  # libsndfile's own errors do not always name the file
        raise AudioError(f"{path}: unreadable audio ({' '.join(str(err).split())})") from None
    if samples.shape[0] == 0:
        raise AudioError(f"{path}: the file holds no audio samples")
    mono = torch.from_numpy(samples.mean(axis=1))
    if rate != sample_rate:
        mono = AF.resample(mono, rate, sample_rate)
    return mono.numpy().astype(np.float32, copy=False)


def write_audio(path: Path, samples: np.ndarray, sample_rate: int, **options: object) -> None:
    """`soundfile.write` through memory: libsndfile reports a full disk as "System error." (a
    RuntimeError naming nothing), a plain write as an OSError that names `path`. The format is the
    suffix's unless `options` give one (e.g. `subtype="PCM_16"`, `compression_level=0.0`)."""
    import io

    import soundfile

    buffer = io.BytesIO()
    options.setdefault("format", Path(path).suffix.lstrip(".").upper())
    soundfile.write(buffer, samples, sample_rate, **options)
    try:
        with open(path, "wb") as handle:
            handle.write(buffer.getbuffer())
    except OSError as err:
        if err.filename is None:  # write(2) names no file
            raise OSError(err.errno, err.strerror, str(path)) from err
        raise


def audio_files(inputs: Sequence[Path]) -> list[Path]:
    """The files named, with every WAV/FLAC under a named folder (sorted); their stems must differ,
    as they name the predictions."""
    files: list[Path] = []
    for path in inputs:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
            if not found:
                raise AudioError(f"{path}: no .wav or .flac files in this folder")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise AudioError(f"{path}: no such file or folder")
    stems: dict[str, Path] = {}
    for path in files:
        if path.stem in stems:
            raise AudioError(
                f"{path} and {stems[path.stem]} share the name {path.stem!r}, which names their predictions"
            )
        stems[path.stem] = path
    return files
