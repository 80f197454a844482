"""Bona fide speech for the mini corpus: espeak-ng voices as speakers, or recorded speech from a folder."""

from __future__ import annotations

import json
import tempfile
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tradeoff_bench.tasks import espeak
from tradeoff_bench.tasks.asvspoof.vocoders import SAMPLE_RATE

_WORDS = {
    "det": "the a this that every one some my her his our".split(),
    "adj": (
        "small large green bright quiet heavy early late cold warm old young simple clever strange "
        "careful happy tired empty broken golden narrow"
    ).split(),
    "noun": (
        "river window teacher garden letter morning station doctor village engine market island "
        "kitchen paper winter bridge farmer story student mountain ticket basket table orchestra"
    ).split(),
    "verb": (
        "found carried painted followed opened watched visited borrowed noticed cleaned answered "
        "described repaired remembered delivered ordered"
    ).split(),
    "prep": "near behind under beside across through after before inside".split(),
    "name": "Stella Peter Maria Thomas Ravi Helen Oscar Nadia Samuel Irene".split(),
}
_TEMPLATES = (
    "det adj noun verb det noun prep det adj noun",
    "name verb det adj noun prep det noun",
    "please ask name to bring det adj noun prep det noun",
    "det noun verb det adj noun and det adj noun",
    "name and name verb det noun prep det adj noun",
)


@dataclass(frozen=True)
class Speaker:
    speaker_id: str
    voice: espeak.Voice | None = None
    """The espeak-ng voice of a synthetic speaker."""
    files: tuple[Path, ...] = ()
    """The recordings of a recorded speaker."""


def _voice(speaker: Speaker) -> espeak.Voice:
    if speaker.voice is None:
        raise ValueError(f"speaker {speaker.speaker_id} has recordings, not an espeak-ng voice")
    return speaker.voice


def sentence(rng: np.random.Generator) -> str:
    template = _TEMPLATES[int(rng.integers(len(_TEMPLATES)))]
    return " ".join(_WORDS[w][int(rng.integers(len(_WORDS[w])))] if w in _WORDS else w for w in template.split())


class EspeakSpeech:
    """espeak-ng speakers: an accent, a voice variant, a pitch, a pitch range and a rate each."""

    def speakers(self, count: int, rng: np.random.Generator) -> list[Speaker]:
        combos = [(accent, variant) for variant in espeak.VARIANTS for accent in espeak.ACCENTS]
        picks = rng.choice(len(combos), size=count, replace=False)
        speakers = []
        for i, pick in enumerate(picks):
            accent, variant = combos[pick]
            voice = espeak.Voice(
                accent, variant, int(rng.integers(145, 196)), int(rng.integers(30, 71)), int(rng.integers(30, 91))
            )
            speakers.append(Speaker(f"LA_{101 + i:04d}", voice))
        return speakers

    def render(self, requests: list[tuple[Speaker, int]], rng: np.random.Generator) -> list[np.ndarray]:
        """One utterance (a random sentence) per (speaker, index), synthesised in a fresh interpreter."""
        jobs = [[sentence(rng), astuple(_voice(s)), int(rng.integers(2**31))] for s, _ in requests]
        with tempfile.TemporaryDirectory(prefix="asvspoof-speech-") as folder:
            jobs_path, out_path = Path(folder) / "jobs.json", Path(folder) / "speech.npz"
            jobs_path.write_text(json.dumps(jobs))
            espeak.in_fresh_process(
                "tradeoff_bench.tasks.asvspoof.speech:synthesize_jobs", str(jobs_path), str(out_path)
            )
            with np.load(out_path) as waves:
                return [waves[f"u{i}"] for i in range(len(jobs))]


def synthesize_jobs(jobs_path: str, out_path: str) -> int:
    """Synthesise `[text, voice fields, seed]` jobs into an .npz of 16 kHz float32 waves `u0, u1, ...`."""
    jobs = json.loads(Path(jobs_path).read_text())
    waves: dict[str, Any] = {}
    for i, (text, voice, seed) in enumerate(jobs):
        samples, rate = espeak.synthesize(text, espeak.Voice(*voice), seed)
        waves[f"u{i}"] = espeak.resample(samples, rate, SAMPLE_RATE).astype(np.float32)
    np.savez(out_path, **waves)
    return len(jobs)


class RecordedSpeech:
    """Recorded utterances: one sub-folder per speaker with WAV/FLAC files (any rate; mixed to mono)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(f"no speech folder {self.folder}")

    @property
    def available(self) -> int:
        """How many speaker folders hold recordings."""
        return len(self._groups())

    def _groups(self) -> dict[str, list[Path]]:
        groups: dict[str, list[Path]] = {}
        for path in sorted(self.folder.rglob("*")):
            if path.suffix.lower() in (".wav", ".flac"):
                groups.setdefault(path.parent.name, []).append(path)
        return groups

    def speakers(self, count: int, rng: np.random.Generator) -> list[Speaker]:
        groups = self._groups()
        if len(groups) < count:
            raise ValueError(f"{self.folder} has {len(groups)} speaker folders; the mini corpus needs {count}")
        names = sorted(groups)
        picks = rng.choice(len(names), size=count, replace=False)
        return [Speaker(f"LA_{101 + i:04d}", files=tuple(groups[names[p]])) for i, p in enumerate(picks)]

    def render(self, requests: list[tuple[Speaker, int]], rng: np.random.Generator) -> list[np.ndarray]:
        """The `index`-th recording of each speaker (cycling through the speaker's files)."""
        return [self._read(speaker.files[index % len(speaker.files)]) for speaker, index in requests]

    @staticmethod
    def _read(path: Path) -> np.ndarray:
        import soundfile
        import torch
        import torchaudio.functional as AF

        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        mono = torch.from_numpy(samples.mean(axis=1))
        if rate != SAMPLE_RATE:
            mono = AF.resample(mono, rate, SAMPLE_RATE)
        return mono[: 6 * SAMPLE_RATE].numpy()  # at most 6 s: the task crops to 4 s anyway
