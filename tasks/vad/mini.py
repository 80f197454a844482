"""`vad-mini`: small offline corpora in the real VCTK 0.92 and ESC-50 layouts, named vctk-mini / esc50-mini.

`tradeoff-bench data generate vad-mini --root DIR` writes DIR/vctk-mini (speaker-info.txt,
wav48_silence_trimmed/<spk>/<spk>_<utt>_mic1.flac, txt/<spk>/<spk>_<utt>.txt) and DIR/esc50-mini
(meta/esc50.csv, audio/<fold>-<src>-<take>-<target>.wav), so the readers and the mixer of the real
corpora run on them unchanged. Both are 16 kHz, not VCTK's 48 kHz or ESC-50's 44.1 kHz; each root's
corpus.json says so (and names the corpus), and the readers hold every file to it.

Recorded (the default where Debian's registry or the package cache is reachable): words spoken by
20 native speakers of 20 languages (of 26 language folders: 3 Serbian variants of one voice and 3
too-noisy voices left out) and continuous speech, whole dialogue lines of Fish Fillets' Czech and
Dutch voice-overs (two lead actors and each level's side characters per language), over game music,
crowd ambiences, machines and sound effects, from Debian packages (tasks/vad/recorded.py; package,
version and licence in each root's README.md, corpus.json and licences/). Fallback (offline, and always at the tiny scale used by tests):
`vctk-mini (espeak)` in ROOT/vctk-mini-espeak, sentences of common English words synthesised by
espeak-ng (22.05 kHz, resampled to 16 kHz, silence-trimmed with a short margin as in VCTK 0.92; a
speaker is one voice variant with its own accent, pitch, pitch range and rate), and
`esc50-mini (synthetic)` in ROOT/esc50-mini-synthetic, ESC-50 categories synthesised in numpy
(tasks/vad/noises.py), one take per category and fold. The two never share a name or a folder, so
records never mix them silently. Generation is seeded and deterministic.

Each corpus is written to a temporary folder beside its target and renamed into place, under a
lock file, so parallel workers that all find the corpus missing generate it once. The speech is
synthesised in a fresh interpreter (espeak-ng carries state between utterances), so the same seed
gives the same files whatever the process did before.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from tradeoff_bench.tasks import espeak
from tradeoff_bench.tasks.audio import write_audio
from tradeoff_bench.tasks.corpora import announce_generation, generation_lock, register_corpus
from tradeoff_bench.tasks.debian import SourceUnavailable
from tradeoff_bench.tasks.vad import noises, recorded
from tradeoff_bench.tasks.vad.layout import ESC50_CSV, MARKER, VCTK_AUDIO, VCTK_INFO, CorpusError

VERSION = 8
SPEECH_NAME, NOISE_NAME = "vctk-mini", "esc50-mini"
FALLBACK_NAMES = {SPEECH_NAME: "vctk-mini (espeak)", NOISE_NAME: "esc50-mini (synthetic)"}
FALLBACK_FOLDERS = {SPEECH_NAME: "vctk-mini-espeak", NOISE_NAME: "esc50-mini-synthetic"}
SOURCES = ("auto", "recorded", "espeak")
"""auto: recorded where the registry (or the cache) has the packages, else espeak; tiny scale: espeak."""
RATE = 16_000
RECORDED_UTTERANCES, CLIPS_PER_FILE, RECORDED_CLIP_SECONDS = 12, 3, 5.0
WORDS = (
    "the a one two three red green blue small large old new good bad long short high low early late "
    "house garden river city street window table chair paper letter music picture water morning "
    "evening summer winter family friend teacher doctor student market station bridge mountain "
    "forest island village country road train boat ship plane car bus ticket money price number "
    "answer question story idea problem reason minute hour week month year today tomorrow always "
    "never often sometimes quickly slowly carefully please thank you we they she he it is was will "
    "can could should would must see hear find bring take give make know think want need like love "
    "open close start stop walk run read write speak listen learn teach help call wait carry move "
    "under over between behind near far inside outside before after because although while until"
).split()


@dataclass(frozen=True)
class Scale:
    speakers: int
    utterances: int
    words: tuple[int, int]
    categories: tuple[int, ...]
    clip_seconds: float


SCALES = {
    "mini": Scale(speakers=16, utterances=10, words=(3, 8), categories=tuple(noises.CATEGORIES), clip_seconds=5.0),
    "tiny": Scale(speakers=6, utterances=3, words=(2, 4), categories=(10, 38, 42, 44), clip_seconds=2.0),
}
"""Sizes of the espeak / synthetic corpora; the recorded ones hold every speaker of `recorded.TRAIN`."""
Writer = Callable[[Path], dict[str, object]]


@register_corpus(
    "vad-mini",
    f"{SPEECH_NAME} (recorded words and continuous speech, Debian packages; espeak-ng fallback) "
    f"+ {NOISE_NAME} (recorded music, crowds, machines; synthetic fallback)",
)
def generate(root: Path, seed: int) -> None:
    ensure_corpora(Path(root), "mini", seed)


def ensure_corpora(root: Path, scale: str = "mini", seed: int = 0, source: str = "auto") -> tuple[Path, Path]:
    """(speech root, noise root) under `root` at `scale`, generated if missing; idempotent and process-safe.

    Recorded corpora are ROOT/vctk-mini and ROOT/esc50-mini; the fallback ones are
    ROOT/vctk-mini-espeak ("vctk-mini (espeak)") and ROOT/esc50-mini-synthetic.
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; expected one of {sorted(SCALES)}")
    if source not in SOURCES:
        raise ValueError(f"unknown corpus source {source!r}; expected one of {SOURCES}")
    if source == "auto":
        source = "espeak" if scale == "tiny" else _recorded_or_espeak(root, seed)
    if source == "recorded":
        packages = recorded.fetch_all(recorded.TRAIN)
        plans = {
            SPEECH_NAME: (SPEECH_NAME, lambda path: _recorded_speech(path, packages, seed)),
            NOISE_NAME: (NOISE_NAME, lambda path: _recorded_noise(path, packages, seed)),
        }
    else:
        plans = {
            FALLBACK_FOLDERS[SPEECH_NAME]: (FALLBACK_NAMES[SPEECH_NAME], lambda path: _write_speech(path, scale, seed)),
            FALLBACK_FOLDERS[NOISE_NAME]: (FALLBACK_NAMES[NOISE_NAME], lambda path: _write_noise(path, scale, seed)),
        }
    expected = {"generator": "vad-mini", "version": VERSION, "scale": scale, "seed": seed, "source": source}
    speech, noise = materialise(root, plans, expected)
    return speech, noise


def materialise(root: Path, plans: dict[str, tuple[str, Writer]], expected: dict[str, object]) -> list[Path]:
    """ROOT/<folder> for each `folder: (corpus name, writer)`, written by the writer unless a corpus.json
    there already matches `expected`: staged in a temporary folder and renamed into place, under a lock."""
    targets = [root / folder for folder in plans]
    if all(_matches(path, expected) for path in targets):
        return targets
    root.mkdir(parents=True, exist_ok=True)
    with generation_lock(root / ".vad-mini.lock"):
        for path, (name, write) in zip(targets, plans.values()):
            if _matches(path, expected):
                continue
            if path.exists():
                raise CorpusError(f"{path}: exists but is not {name} {expected}; remove it or use another folder")
            for stale in root.glob(
                f".{path.name}-*"
            ):  # staging of a generator killed mid-way (under the lock: no one's now)
                shutil.rmtree(stale, ignore_errors=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=root))
            announce_generation(name, path)
            try:
                info = write(staging)
                (staging / MARKER).write_text(
                    json.dumps({"name": name, "sample_rate": RATE, **expected, **info}, indent=1)
                )
                os.rename(staging, path)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    return targets


def _recorded_or_espeak(root: Path, seed: int) -> str:
    """ "recorded" when its packages can be had; else "espeak", saying why on stderr."""
    try:
        recorded.fetch_all(recorded.TRAIN)
    except SourceUnavailable as err:
        warnings.warn(
            f"vad-mini: recorded sources unavailable ({err}); using {FALLBACK_NAMES[SPEECH_NAME]}", stacklevel=3
        )
        return "espeak"
    return "recorded"


def _recorded_speech(root: Path, packages: dict, seed: int) -> dict[str, object]:
    info = recorded.write_speech(root, recorded.TRAIN, packages, seed, RECORDED_UTTERANCES)
    recorded.write_readme(
        root, f"{SPEECH_NAME}: recorded speech in the VCTK 0.92 layout (16 kHz)", recorded.TRAIN, packages
    )
    return {**info, "sources": recorded.sources_manifest(recorded.TRAIN, packages)}


def _recorded_noise(root: Path, packages: dict, seed: int) -> dict[str, object]:
    info = recorded.write_noise(root, recorded.TRAIN, packages, RECORDED_CLIP_SECONDS, CLIPS_PER_FILE, seed)
    recorded.write_readme(
        root, f"{NOISE_NAME}: recorded non-speech in the ESC-50 layout (16 kHz)", recorded.TRAIN, packages
    )
    return {**info, "sources": recorded.sources_manifest(recorded.TRAIN, packages)}


def _matches(path: Path, expected: dict[str, object]) -> bool:
    try:
        info = json.loads((path / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return all(info.get(k) == v for k, v in expected.items())


def _write_speech(root: Path, scale: str, seed: int) -> dict[str, object]:
    """`synthesize_speech` in a fresh interpreter, so the corpus is a function of the seed alone."""
    return cast(
        dict[str, object],
        espeak.in_fresh_process("tradeoff_bench.tasks.vad.mini:synthesize_speech", str(root), scale, str(seed)),
    )


def synthesize_speech(root: str | Path, scale_name: str, seed: int | str) -> dict[str, object]:
    """Write the speech corpus into `root` (call it in a fresh process: see `_write_speech`)."""

    root, scale = Path(root), SCALES[scale_name]
    rng = np.random.default_rng([int(seed), 1])
    female = sorted(espeak.FEMALE)
    male = [v for v in espeak.VARIANTS if v not in espeak.FEMALE]
    half = scale.speakers // 2
    variants = list(rng.choice(female, size=half, replace=False)) + list(
        rng.choice(male, size=scale.speakers - half, replace=False)
    )
    lines = ["ID  AGE  GENDER  ACCENTS  REGION  COMMENTS"]
    total = 0.0
    for index, variant in enumerate(variants):
        voice = espeak.Voice(
            str(rng.choice(espeak.ACCENTS)),
            str(variant),
            int(rng.integers(130, 191)),
            int(rng.integers(25, 76)),
            int(rng.integers(30, 91)),
        )
        speaker = f"p{901 + index}"
        lines.append(
            f"{speaker}  {int(rng.integers(20, 70))}  {voice.gender}  {voice.accent}  espeak-ng  "
            f"{voice.accent}+{voice.variant} rate {voice.rate} pitch {voice.pitch} range {voice.range}"
        )
        (root / VCTK_AUDIO / speaker).mkdir(parents=True)
        (root / "txt" / speaker).mkdir(parents=True)
        for utt in range(1, scale.utterances + 1):
            words = rng.choice(WORDS, size=int(rng.integers(scale.words[0], scale.words[1] + 1)))
            text = " ".join(words).capitalize() + "."
            audio = _trimmed(espeak.resample(*espeak.synthesize(text, voice, seed=int(rng.integers(2**31))), RATE), rng)
            write_audio(root / VCTK_AUDIO / speaker / f"{speaker}_{utt:03d}_mic1.flac", audio, RATE, subtype="PCM_16")
            (root / "txt" / speaker / f"{speaker}_{utt:03d}.txt").write_text(text + "\n")
            total += audio.size / RATE
    (root / VCTK_INFO).write_text("\n".join(lines) + "\n")
    return {"speakers": scale.speakers, "utterances": scale.speakers * scale.utterances, "seconds": round(total, 1)}


def _trimmed(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Silence trimmed to a 50–150 ms margin each side, peak at a random level (like VCTK 0.92)."""
    loud = np.flatnonzero(np.abs(audio) > np.abs(audio).max() * 10 ** (-45 / 20))
    before, after = (int(rng.uniform(0.05, 0.15) * RATE) for _ in range(2))
    padded = np.concatenate([np.zeros(before), audio, np.zeros(after)])  # espeak starts speaking at once
    audio = padded[loud[0] : loud[-1] + 1 + before + after]
    return (audio / np.abs(audio).max() * rng.uniform(0.3, 0.9)).astype(np.float32)


def _write_noise(root: Path, scale_name: str, seed: int) -> dict[str, object]:

    scale = SCALES[scale_name]
    rng = np.random.default_rng([seed, 2])
    (root / "audio").mkdir()
    (root / "meta").mkdir()
    rows: list[list[object]] = []
    for fold in range(1, 6):
        for target in scale.categories:
            src = str(900_000 + len(rows))
            filename = f"{fold}-{src}-A-{target}.wav"
            write_audio(
                root / "audio" / filename, noises.synthesize(target, rng, scale.clip_seconds), RATE, subtype="PCM_16"
            )
            rows.append(
                [filename, fold, target, noises.CATEGORIES[target][0], target in noises.ESC10_TARGETS, src, "A"]
            )
    with (root / ESC50_CSV).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["filename", "fold", "target", "category", "esc10", "src_file", "take"])
        writer.writerows(rows)
    return {"clips": len(rows), "categories": len(scale.categories), "clip_seconds": scale.clip_seconds}
