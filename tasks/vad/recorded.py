"""Recorded speech and non-speech from Debian packages, written in the VCTK 0.92 / ESC-50 layouts.

Speech comes in two kinds.
- **Words** (`SpeechSource(sentences=False)`): KDE's educational games ship words and syllables
  spoken by native speakers, one voice per language folder; an utterance is 3–7 of a speaker's
  recordings (up to `FILES_PER_SPEAKER` of them) joined by pauses of 50–400 ms, words scaled by ±4 dB.
- **Continuous speech** (`sentences=True`): dialogue lines of games' voice-overs, whole spoken
  sentences with their natural pauses; an utterance is one recording, never cut (the mixer keeps it
  whole), and a speaker is one voice (or one level's side characters), named by the source's
  `voice` pattern.

Every utterance's peak is set to a random level from 0.1 to 0.9 (19 dB). Many recordings carry
their own room noise, which energy labels would call speech, so each is cleaned first: its noise
floor (the 10th percentile of its 10 ms frame powers) must be `FLOOR_DB` or more below its loudest
frame (else the file is left out, and a speaker with fewer than 3 usable files), frames within
30 ms of one above max(`TRIM_DB`, floor + 10 dB) are kept, the rest gated to −60 dB, and the
recording cropped to the kept span. The clean speech the labels are drawn from is then silent in its
pauses. Some voice-overs are 11 kHz recordings (nothing above 5.5 kHz): the training sources mix
full-band and band-limited voices, so the bandwidth alone does not tell speech from noise.

Non-speech: game soundtracks (music), crowd ambiences (speech-like babble with no intelligible
speaker), machines and places, game sound effects; long files are cut into clips, short ones placed
at a random offset in a clip, and every clip gets a room-tone floor (pink noise 45–60 dB below its
peak), so pauses are never digital silence.

Training (`vad-mini`) and the real-audio test set use disjoint packages and voices, so no speaker or
recording of the test set is ever trained on (`TRAIN` and `TEST`).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tradeoff_bench.tasks.audio import write_audio
from tradeoff_bench.tasks.corpora import progress
from tradeoff_bench.tasks.debian import RATE, Package, fetch, read_16k
from tradeoff_bench.tasks.vad.layout import ESC50_CSV, VCTK_AUDIO, VCTK_INFO

TRIM_DB = -35.0
FLOOR_DB = -25.0
"""A recording whose quietest 10 % of frames are louder than this (re its loudest) is too noisy to use."""
FILES_PER_SPEAKER = 40
FRAME = 160


@dataclass(frozen=True)
class SpeechSource:
    package: str
    licence: str
    pattern: str
    """Glob of the recordings inside the unpacked package; the language folder is `parts[lang_part]`."""
    lang_part: int
    languages: frozenset[str] | None = None
    """Only these language folders (None: all but `skip`)."""
    skip: frozenset[str] = frozenset()
    prefix: str = ""
    sentences: bool = False
    """Each recording is a whole utterance (continuous speech), not a word to join with others."""
    voice: str | None = None
    """A regular expression searched in a recording's path: its first matching group names the
    voice (the speaker is `prefix-voice`); None: the language folder is the voice."""
    exclude: str | None = None
    """A regular expression: recordings whose path matches are left out (sound effects, not speech)."""
    encoding: str = "file"
    """"file": a sound file soundfile reads; "als": Drascula's raw unsigned 8-bit 11,025 Hz speech
    (`_read_als`)."""


@dataclass(frozen=True)
class NoiseSource:
    package: str
    licence: str
    pattern: str
    target: int
    category: str
    skip: tuple[str, ...] = ()
    """File-name stems left out (they hold speech)."""


@dataclass(frozen=True)
class SourceSet:
    speech: tuple[SpeechSource, ...]
    noise: tuple[NoiseSource, ...]

    @property
    def packages(self) -> list[str]:
        return sorted({s.package for s in self.sources})

    @property
    def sources(self) -> tuple[SpeechSource | NoiseSource, ...]:
        return (*self.speech, *self.noise)


_KTUBERLING = "usr/share/ktuberling/sounds/*/*"
_LINCITY = "usr/share/games/lincity-ng/sounds/*.wav"
_CROWDS = ("SportsCroud*", "Market*", "School*")
_SERBIAN_VARIANTS = frozenset({"sr@ijekavian", "sr@ijekavianlatin", "sr@latin"})  # the sr speaker again
_FISH = r"^(?:.*/[^/-]+-([mv])-|.*sound/([^/]+)/)"
"""Fish Fillets' two fish (m, v: one actor each, in every level), else a level's side characters."""
_DRASCULA = r"/([A-Z]*)\d+\.ALS$"
"""Drascula's characters by file prefix (D, VB, BJ, I, ...); files with none are the hero's lines."""


def _fillets(language: str) -> SpeechSource:
    return SpeechSource(
        f"fillets-ng-data-{language}",
        "GPL-2+",
        f"usr/share/games/fillets-ng/sound/*/{language}/*.ogg",
        -2,
        prefix=f"ff{language}",
        sentences=True,
        voice=_FISH,
    )


def _drascula(package: str, language: str) -> SpeechSource:
    return SpeechSource(
        package,
        "Drascula licence (free redistribution; BSD-like)",
        f"usr/share/scummvm/drascula/{language}/*.ALS",
        -2,
        prefix=f"dr{language}",
        sentences=True,
        voice=_DRASCULA,
        exclude=r"/S\d+\.ALS$",
        encoding="als",
    )


TRAIN = SourceSet(
    speech=(
        SpeechSource("ktuberling-data", "GPL-2+", _KTUBERLING, -2, skip=_SERBIAN_VARIANTS, prefix="kt"),
        _fillets("cs"),
        _fillets("nl"),
    ),
    noise=(
        NoiseSource("frozen-bubble-data", "GPL-2", "usr/share/games/frozen-bubble/snd/*zik*.ogg", 50, "music"),
        NoiseSource("tuxtype-data", "GPL-2", "usr/share/tuxtype/sounds/*.ogg", 50, "music"),
        NoiseSource("lincity-ng-data", "GPL-2+", "usr/share/games/lincity-ng/music/default/*.ogg", 50, "music"),
        *(
            NoiseSource("lincity-ng-data", "GPL-2+", f"usr/share/games/lincity-ng/sounds/{c}.wav", 51, "crowd")
            for c in _CROWDS
        ),
        NoiseSource("lincity-ng-data", "GPL-2+", _LINCITY, 52, "machines_and_places", skip=_CROWDS),
        NoiseSource(
            "frozen-bubble-data",
            "GPL-2",
            "usr/share/games/frozen-bubble/snd/*.ogg",
            53,
            "game_effects",
            skip=("*zik*", "hurry", "noh", "chatted"),
        ),
        NoiseSource("tuxtype-data", "GPL-2", "usr/share/tuxtype/sounds/*.wav", 53, "game_effects", skip=("excuseme",)),
    ),
)
TEST = SourceSet(
    speech=(_drascula("drascula", "en"), _drascula("drascula-spanish", "es")),
    noise=(
        NoiseSource(
            "wesnoth-1.16-music",
            "GPL-2+",
            "usr/share/games/wesnoth/1.16/data/core/music/*.ogg",
            50,
            "music",
            skip=("silence",),
        ),
        NoiseSource("gnome-audio", "CC-BY-SA-2.0 / CC-BY-3.0", "usr/share/sounds/**/*.wav", 53, "desktop_sounds"),
    ),
)
"""The test's continuous speech: Drascula's English and Spanish voice-overs (other actors, other
packages and another game than any training voice), over other music and other sounds."""


def fetch_all(sources: SourceSet) -> dict[str, Package]:
    """Every package of `sources`, from the cache or the registry (`SourceUnavailable` if not)."""
    return {name: fetch(name) for name in sources.packages}


def write_speech(
    root: Path, sources: SourceSet, packages: dict[str, Package], seed: int, utterances: int | None = None
) -> dict[str, object]:
    """The speech corpus in the VCTK layout (16 kHz FLAC): `utterances` of joined words per speaker of
    words (required where `sources` has words), one utterance per usable recording of continuous speech."""
    if utterances is None and not all(source.sentences for source in sources.speech):
        raise ValueError("write_speech: sources of recorded words need a number of utterances per speaker")

    rng = np.random.default_rng([seed, 11])
    speakers, dropped = {}, []
    for speaker, (source, files) in sorted(_speakers(sources, packages).items()):
        picked = [
            files[i] for i in sorted(rng.choice(len(files), size=min(len(files), FILES_PER_SPEAKER), replace=False))
        ]
        kept = [(path, w) for path in picked if (w := _cleaned(_read(path, source))) is not None]
        if len(kept) >= 3:
            speakers[speaker] = (source, kept)
        else:
            dropped.append(speaker)
    lines = ["ID  AGE  GENDER  ACCENTS  REGION  COMMENTS"]
    total, written = 0.0, 0
    for speaker, (source, kept) in progress(speakers.items(), len(speakers), "writing speakers"):
        kind = "continuous speech, one voice" if source.sentences else "recorded words, one voice per language"
        lines.append(f"{speaker}  ?  ?  {speaker.split('-', 1)[1]}  {source.package}  {kind}")
        (root / VCTK_AUDIO / speaker).mkdir(parents=True)
        (root / "txt" / speaker).mkdir(parents=True)
        takes = _sentences(kept) if source.sentences else _joined_words(kept, utterances or 0, rng)
        for utt, (audio, text) in enumerate(takes, start=1):
            audio = (audio / max(np.abs(audio).max(), 1e-9) * rng.uniform(0.1, 0.9)).astype(np.float32)
            write_audio(root / VCTK_AUDIO / speaker / f"{speaker}_{utt:03d}_mic1.flac", audio, RATE, subtype="PCM_16")
            (root / "txt" / speaker / f"{speaker}_{utt:03d}.txt").write_text(text + "\n")
            total += audio.size / RATE
            written += 1
    (root / VCTK_INFO).write_text("\n".join(lines) + "\n")
    return {
        "speakers": len(speakers),
        "utterances": written,
        "seconds": round(total, 1),
        "recordings": sum(len(kept) for _, kept in speakers.values()),
        "dropped_speakers": dropped,
    }


def _sentences(kept: list[tuple[Path, np.ndarray]]) -> list[tuple[np.ndarray, str]]:
    """Continuous speech: each recording is an utterance, named after its file."""
    return [(audio, path.stem) for path, audio in kept]


def _joined_words(
    kept: list[tuple[Path, np.ndarray]], utterances: int, rng: np.random.Generator
) -> list[tuple[np.ndarray, str]]:
    """`utterances` of 3–7 words each, joined by 50–400 ms pauses, each word scaled by ±4 dB."""
    takes = []
    for _ in range(utterances):
        picks = rng.choice(len(kept), size=int(rng.integers(3, 8)))
        parts = []
        for i in picks:
            parts += [
                kept[i][1] * 10 ** (rng.uniform(-4, 4) / 20),
                np.zeros(int(rng.uniform(0.05, 0.4) * RATE), dtype=np.float32),
            ]
        takes.append((np.concatenate(parts[:-1]), " ".join(kept[i][0].stem for i in picks)))
    return takes


def write_noise(
    root: Path,
    sources: SourceSet,
    packages: dict[str, Package],
    clip_seconds: float,
    clips_per_file: int,
    seed: int,
    max_files: int | None = None,
) -> dict[str, object]:
    """The non-speech corpus in the ESC-50 layout, from at most `max_files` files per source; a file's
    clips share one fold (folds 1–5 in turn)."""

    rng = np.random.default_rng([seed, 12])
    (root / "audio").mkdir()
    (root / "meta").mkdir()
    rows, n = [], int(clip_seconds * RATE)
    for index, (source, path) in enumerate(_noise_files(sources, packages, max_files)):
        fold = index % 5 + 1
        audio = read_16k(path)
        for take, clip in enumerate(_clips(audio, n, clips_per_file, rng)):
            src = f"{source.package.split('-')[0]}{index:03d}"
            filename = f"{fold}-{src}-{chr(65 + take)}-{source.target}.wav"
            write_audio(root / "audio" / filename, _with_room_tone(clip, rng), RATE, subtype="PCM_16")
            rows.append([filename, fold, source.target, source.category, False, src, chr(65 + take)])
    with (root / ESC50_CSV).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["filename", "fold", "target", "category", "esc10", "src_file", "take"])
        writer.writerows(rows)
    return {"clips": len(rows), "categories": sorted({s.category for s in sources.noise}), "clip_seconds": clip_seconds}


def sources_manifest(sources: SourceSet, packages: dict[str, Package]) -> list[dict[str, str]]:
    """One entry per source: package, version, licence, the files used and their role."""
    return [
        {
            "package": s.package,
            "version": packages[s.package].version,
            "licence": s.licence,
            "files": s.pattern,
            "role": "speech" if isinstance(s, SpeechSource) else f"non-speech ({s.category})",
        }
        for s in sources.sources
    ]


def write_readme(root: Path, title: str, sources: SourceSet, packages: dict[str, Package]) -> None:
    """README.md listing the sources, and each package's debian/copyright under licences/."""
    entries = sources_manifest(sources, packages)
    (root / "licences").mkdir()
    for name in sources.packages:
        (root / "licences" / f"{name}.copyright").write_bytes(packages[name].copyright.read_bytes())
    rows = "\n".join(
        f"| {e['package']} | {e['version']} | {e['licence']} | {e['role']} | `{e['files']}` |" for e in entries
    )
    (root / "README.md").write_text(
        f"# {title}\n\nGenerated by tradeoff-bench from recordings in Debian packages (see tasks/vad/recorded.py);"
        " each package's debian/copyright is in licences/.\n\n"
        f"| package | version | licence | role | files |\n| --- | --- | --- | --- | --- |\n{rows}\n"
    )
    (root / "sources.json").write_text(json.dumps(entries, indent=1))


def _speakers(sources: SourceSet, packages: dict[str, Package]) -> dict[str, tuple[SpeechSource, list[Path]]]:
    speakers: dict[str, tuple[SpeechSource, list[Path]]] = {}
    for source in sources.speech:
        root = packages[source.package].root
        for path in sorted(root.glob(source.pattern)):
            if path.suffix.lower() not in (".ogg", ".wav", ".opus", ".flac", ".als") or path.is_symlink():
                continue  # a link points into another package (Drascula's shared lines)
            relative = path.relative_to(root).as_posix()
            if source.exclude and re.search(source.exclude, "/" + relative):
                continue
            language = path.parts[source.lang_part]
            if language in source.skip or (source.languages is not None and language not in source.languages):
                continue
            name = f"{source.prefix}-{_voice(source, relative, language)}"
            speakers.setdefault(name, (source, []))[1].append(path)
    return speakers


def _voice(source: SpeechSource, relative: str, language: str) -> str:
    if source.voice is None:
        return language.replace("_", "")
    match = re.search(source.voice, "/" + relative)
    found = next((group for group in match.groups() if group), "") if match else ""
    return found.lower().replace("_", "") or "main"


def _read(path: Path, source: SpeechSource) -> np.ndarray:
    """A recording of `source` as 16 kHz mono float32."""
    if source.encoding == "als":
        return _read_als(path)
    return read_16k(path)


def _read_als(path: Path) -> np.ndarray:
    """Drascula's .ALS speech: a 32-byte header, unsigned 8-bit mono samples at 11,025 Hz, a 32-byte trailer."""
    return read_16k(io.BytesIO(path.read_bytes()[32:-32]), raw=(11_025, "PCM_U8"))


def _noise_files(
    sources: SourceSet, packages: dict[str, Package], max_files: int | None
) -> list[tuple[NoiseSource, Path]]:
    files = []
    for source in sources.noise:
        chosen = [
            p
            for p in sorted(packages[source.package].root.glob(source.pattern))
            if not any(p.match(f"{s}.*") for s in source.skip)
        ]
        files += [(source, p) for p in chosen[:max_files]]
    return files


def _cleaned(audio: np.ndarray) -> np.ndarray | None:
    """The recording with its noise floor gated out and cropped to its speech, or None if too noisy."""
    frames = -(-audio.size // FRAME)
    padded = np.zeros(frames * FRAME, dtype=np.float32)
    padded[: audio.size] = audio
    power_db = 10 * np.log10(np.square(padded, dtype=np.float64).reshape(frames, FRAME).mean(axis=1) + 1e-20)
    power_db -= power_db.max()
    floor = float(np.percentile(power_db, 10))
    if floor > FLOOR_DB:
        return None
    active = np.convolve(power_db >= max(TRIM_DB, floor + 10), np.ones(7), mode="same") > 0  # ±30 ms
    gain = np.repeat(np.where(active, 1.0, 10 ** (-60 / 20)), FRAME)
    gain = np.convolve(gain, np.ones(80) / 80, mode="same")  # 5 ms ramps
    kept = np.flatnonzero(active)
    return (padded * gain)[kept[0] * FRAME : (kept[-1] + 1) * FRAME].astype(np.float32)


def _clips(audio: np.ndarray, n: int, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    if audio.size < n:
        clip = np.zeros(n, dtype=np.float32)
        at = int(rng.integers(0, n - audio.size + 1))
        clip[at : at + audio.size] = audio
        return [clip]
    starts = np.linspace(0, audio.size - n, min(count, audio.size // n)).astype(int)
    return [audio[s : s + n] for s in starts]


def _with_room_tone(clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(clip.size))
    pink = np.fft.irfft(spectrum / np.sqrt(np.maximum(np.fft.rfftfreq(clip.size, 1 / RATE), 20.0)), clip.size)
    peak = max(float(np.abs(clip).max()), 1e-3)
    floor = pink / np.abs(pink).max() * peak * 10 ** (-rng.uniform(45, 60) / 20)
    out = clip + floor
    return (out / np.abs(out).max() * rng.uniform(0.3, 0.9)).astype(np.float32)
