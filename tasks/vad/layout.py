"""Readers of the two corpora in their real on-disk layouts, and the audio loader they share.

VCTK 0.92 (speech): ROOT/speaker-info.txt (a header line starting with "ID", then one speaker per
line, its id first) and ROOT/wav48_silence_trimmed/<spk>/<spk>_<utt>_mic1.flac (48 kHz). Only mic1
is used. ESC-50 (noise): ROOT/meta/esc50.csv (filename, fold, target, category, esc10, src_file,
take) and ROOT/audio/<fold>-<src_file>-<take>-<target>.wav (44.1 kHz).

A generated corpus has a `corpus.json` at its root ({"name": "vctk-mini", "sample_rate": 16000,
...}); a root without one is the real corpus, at its real sample rate. Every file of a corpus must
have that rate.

Bad input, per case (errors are `CorpusError`s naming the path; skips are `Skip`s the manifest
counts):
- a missing root, folder, speaker-info.txt or esc50.csv, an esc50.csv without its columns, a row
  whose file is missing or whose name disagrees with its fold/target, a file at another sample rate
  than its corpus, an unreadable file: error;
- a speaker listed in speaker-info.txt without audio, or with audio but not listed: skipped;
- a clip shorter than one 25 ms analysis window, or a silent one (no 10 ms frame above −60 dBFS):
  skipped when the mixer first reads it (`load_audio` returns a `Skip`).
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from tradeoff_bench.core.errors import UserError
from tradeoff_bench.tasks.vad.features import HOP, MIN_SAMPLES, SAMPLE_RATE

VCTK_AUDIO = "wav48_silence_trimmed"
VCTK_INFO = "speaker-info.txt"
VCTK_RATE = 48_000
ESC50_CSV = "meta/esc50.csv"
ESC50_AUDIO = "audio"
ESC50_RATE = 44_100
ESC50_COLUMNS = ("filename", "fold", "target", "category")
MARKER = "corpus.json"
SILENCE_DBFS = -60.0
"""A file whose loudest 10 ms frame is below this mean power is silent."""

_UTTERANCE = re.compile(r"^(?P<spk>[^_]+)_(?P<utt>[^_]+)_mic1\.flac$")
_CLIP = re.compile(r"^(?P<fold>\d+)-(?P<src>[^-]+)-(?P<take>[^-]+)-(?P<target>\d+)\.wav$")


class CorpusError(UserError, ValueError):
    """A corpus is missing, incomplete or holds a file that cannot be used; the message names it."""


@dataclass(frozen=True)
class Skip:
    """A file or speaker left out, and why; the manifest lists and counts these."""

    item: str
    reason: str


@dataclass(frozen=True)
class Utterance:
    speaker: str
    path: str
    """Relative to the corpus root (so manifests are the same on every machine)."""


@dataclass(frozen=True)
class Clip:
    path: str
    fold: int
    target: int
    category: str


@dataclass
class SpeechCorpus:
    root: Path
    name: str
    sample_rate: int
    speakers: dict[str, list[Utterance]]
    skipped: list[Skip] = field(default_factory=list)


@dataclass
class NoiseCorpus:
    root: Path
    name: str
    sample_rate: int
    clips: list[Clip]
    skipped: list[Skip] = field(default_factory=list)


def read_marker(root: Path, default_name: str, default_rate: int) -> tuple[str, int]:
    """(name, sample rate) of the corpus at `root`: its corpus.json, else the real corpus's."""
    marker = root / MARKER
    if not marker.exists():
        return default_name, default_rate
    try:
        info = json.loads(marker.read_text())
        return str(info["name"]), int(info["sample_rate"])
    except (ValueError, KeyError, TypeError) as err:
        raise CorpusError(f"{marker}: not a corpus marker with 'name' and 'sample_rate' ({err})") from None


def read_vctk(root: str | Path) -> SpeechCorpus:
    """Speakers and their mic1 utterances, sorted, from a VCTK 0.92 layout."""
    root = _existing_dir(Path(root), "VCTK root (speaker-info.txt, wav48_silence_trimmed/)")
    info, audio = root / VCTK_INFO, _existing_dir(root / VCTK_AUDIO, "VCTK audio folder")
    if not info.is_file():
        raise CorpusError(f"{info}: missing; a VCTK 0.92 root has speaker-info.txt beside {VCTK_AUDIO}/")
    listed = _listed_speakers(info)
    name, rate = read_marker(root, "vctk", VCTK_RATE)
    speakers: dict[str, list[Utterance]] = {}
    skipped: list[Skip] = []
    folders = {p.name: p for p in audio.iterdir() if p.is_dir()}
    for speaker in sorted(set(listed) | set(folders)):
        files = sorted(folders[speaker].glob(f"{speaker}_*_mic1.flac")) if speaker in folders else []
        if speaker not in listed:
            skipped.append(Skip(f"{VCTK_AUDIO}/{speaker}", f"speaker not listed in {VCTK_INFO}"))
        elif not files:
            skipped.append(Skip(f"{VCTK_AUDIO}/{speaker}", f"listed in {VCTK_INFO} but has no *_mic1.flac audio"))
        else:
            speakers[speaker] = [
                Utterance(speaker, f"{VCTK_AUDIO}/{speaker}/{f.name}") for f in files if _UTTERANCE.match(f.name)
            ]
    if not speakers:
        raise CorpusError(f"{audio}: no speaker folder with <spk>_<utt>_mic1.flac files")
    return SpeechCorpus(root, name, rate, speakers, skipped)


def read_esc50(root: str | Path) -> NoiseCorpus:
    """Every clip of esc50.csv, checked against its file name and presence on disk."""
    root = _existing_dir(Path(root), "ESC-50 root (meta/esc50.csv, audio/)")
    table, audio = root / ESC50_CSV, _existing_dir(root / ESC50_AUDIO, "ESC-50 audio folder")
    if not table.is_file():
        raise CorpusError(f"{table}: missing; an ESC-50 root has meta/esc50.csv beside audio/")
    name, rate = read_marker(root, "esc50", ESC50_RATE)
    clips = []
    with table.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ESC50_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise CorpusError(f"{table}: missing column(s) {', '.join(missing)}")
        for line, row in enumerate(reader, start=2):
            clips.append(_clip(row, table, line, audio))
    if not clips:
        raise CorpusError(f"{table}: no clips listed")
    return NoiseCorpus(root, name, rate, sorted(clips, key=lambda c: c.path))


def load_audio(root: Path, relative: str, corpus_rate: int) -> np.ndarray | Skip:
    """A file as 16 kHz mono float32, or the `Skip` saying why it cannot be used."""
    import soundfile as sf

    path = root / relative
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, OSError) as err:  # soundfile raises LibsndfileError (a RuntimeError)
        raise CorpusError(f"{path}: cannot read audio ({err})") from None
    if rate != corpus_rate:
        raise CorpusError(f"{path}: sample rate {rate} Hz, but its corpus is at {corpus_rate} Hz")
    audio = _resample(data.mean(axis=1), rate)
    if audio.size < MIN_SAMPLES:
        return Skip(relative, f"shorter than one {MIN_SAMPLES}-sample analysis window ({audio.size} samples at 16 kHz)")
    frames = audio[: audio.size // HOP * HOP].reshape(-1, HOP)
    if np.square(frames, dtype=np.float64).mean(axis=1).max() < 10 ** (SILENCE_DBFS / 10):
        return Skip(relative, f"silent (no 10 ms frame above {SILENCE_DBFS:g} dBFS)")
    return audio


def _resample(audio: np.ndarray, rate: int) -> np.ndarray:
    if rate == SAMPLE_RATE:
        return np.ascontiguousarray(audio, dtype=np.float32)
    import torch

    with torch.no_grad():
        return _resampler(rate)(torch.from_numpy(np.ascontiguousarray(audio))).numpy()


@lru_cache(maxsize=4)
def _resampler(rate: int) -> Any:
    """torchaudio's sinc resampler to 16 kHz, its kernel built once per source rate."""
    import torchaudio

    return torchaudio.transforms.Resample(rate, SAMPLE_RATE)


def _listed_speakers(info: Path) -> set[str]:
    speakers = set()
    for line in info.read_text(errors="replace").splitlines():
        fields = line.split()
        if fields and not fields[0].upper().startswith("ID") and not line.lstrip().startswith(("#", ";")):
            speakers.add(fields[0])
    return speakers


def _clip(row: dict[str, str], table: Path, line: int, audio: Path) -> Clip:
    where = f"{table}, line {line}"
    filename = (row.get("filename") or "").strip()
    match = _CLIP.match(filename)
    if not match:
        raise CorpusError(f"{where}: file name {filename!r} is not <fold>-<src>-<take>-<target>.wav")
    try:
        fold, target = int(row["fold"]), int(row["target"])
    except (TypeError, ValueError):
        raise CorpusError(
            f"{where}: fold {row.get('fold')!r} and target {row.get('target')!r} must be integers"
        ) from None
    if (int(match["fold"]), int(match["target"])) != (fold, target):
        raise CorpusError(f"{where}: {filename} disagrees with its fold {fold} / target {target} columns")
    if not (audio / filename).is_file():
        raise CorpusError(f"{where}: lists {audio / filename}, which does not exist")
    return Clip(f"{ESC50_AUDIO}/{filename}", fold, target, (row.get("category") or "").strip())


def _existing_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise CorpusError(f"{path}: missing {what}")
    return path
