"""Speech + noise mixtures fixed by a seeded manifest, the mixer, and frame labels from clean speech.

Splits are speaker-disjoint (VCTK speakers, sorted then shuffled by the seed: 20 % test, 10 %
validation, the rest training) and fold-disjoint (ESC-50 folds 1–3 train, 4 validation, 5 test).
Each split's mixtures are drawn by their own random stream (seed, split), so the test set does not
change with the training-set size, and the manifest stores every decision (files, offsets, crops,
SNR, level) with paths relative to the corpus roots: the same corpora give the same manifest, and
the same mixtures, on every machine (`Manifest.digest`).

A mixture of `seconds` starts and ends with noise only, holds whole utterances separated by
noise-only gaps (all offsets on the 10 ms frame grid; an utterance is cropped only when none of
`FIT_TRIES` draws fits an empty mixture), and noise throughout: random stretches of clips of the
split's folds, scaled so that speech power (over its speech frames) / noise power = the SNR, drawn
uniformly in `snr_db`. Before the noise is added, a share `bandlimit_share` of the mixtures pass
their speech through a low-pass filter at a cutoff drawn in `cutoff_hz` (telephone and low-rate
recordings: deployed audio is often band-limited), and a share `reverb_share` put the talker in a
simulated room (tasks/vad/rooms.py: one of `ROOMS` rooms per split, drawn from the seed).
The mixture is then set to an RMS level drawn in `level_dbfs`, and scaled down if it would clip.

Labels come from each clean, dry utterance on its own (a room's response starts at its direct
sound, so they stay aligned): a 10 ms frame is speech when its power is within `ACTIVITY_DB` of the
utterance's loudest frame; pauses of at most `MAX_GAP_FRAMES` inside speech
(stop closures, short breaks between words) count as speech.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from tradeoff_bench.tasks.vad.features import HOP, MIN_SAMPLES, SAMPLE_RATE
from tradeoff_bench.tasks.vad.layout import Clip, CorpusError, NoiseCorpus, Skip, SpeechCorpus, Utterance, load_audio
from tradeoff_bench.tasks.vad.rooms import Room, draw_room, reverberate

T = TypeVar("T", Utterance, Clip)
SPLITS = ("train", "val", "test")
NOISE_FOLDS = {"train": (1, 2, 3), "val": (4,), "test": (5,)}
SPEAKER_SHARE = {"test": 0.2, "val": 0.1}
ACTIVITY_DB = -40.0
MAX_GAP_FRAMES = 10
NOISE_REDRAWS = 20
FIT_TRIES = 8
ROOMS = 24
SNR_BINS = (("snr<5", -np.inf, 5.0), ("snr5-15", 5.0, 15.0), ("snr15-25", 15.0, 25.0), ("snr>=25", 25.0, np.inf))
"""(name, low, high): a mixture is in a bin when low ≤ SNR < high (dB)."""


@dataclass(frozen=True)
class MixSpec:
    """How many mixtures of what kind; every number the manifest draws from."""

    seconds: float = 4.0
    n_train: int = 400
    n_val: int = 40
    n_test: int = 200
    snr_db: tuple[float, float] = (-5.0, 30.0)
    gap_s: tuple[float, float] = (0.3, 1.5)
    edge_s: tuple[float, float] = (0.2, 1.0)
    level_dbfs: tuple[float, float] = (-35.0, -15.0)
    reverb_share: float = 0.3
    bandlimit_share: float = 0.3
    cutoff_hz: tuple[float, float] = (3400.0, 7000.0)
    seed: int = 0

    def count(self, split: str) -> int:
        return {"train": self.n_train, "val": self.n_val, "test": self.n_test}[split]

    @property
    def samples(self) -> int:
        return _frames(self.seconds) * HOP


@dataclass
class Manifest:
    """Every mixture of every split, and what was skipped on the way."""

    corpora: dict[str, str]
    spec: dict[str, object]
    speakers: dict[str, list[str]]
    folds: dict[str, list[int]]
    mixtures: dict[str, list[dict[str, object]]]
    skipped: list[Skip] = field(default_factory=list)
    noise_redraws: int = 0

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["skipped_counts"] = dict(Counter(s.reason.split(" (")[0] for s in self.skipped))
        return data

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


class AudioCache:
    """Each file read (and resampled to 16 kHz) once; a bad file gives its `Skip` every time."""

    def __init__(self, speech: SpeechCorpus, noise: NoiseCorpus) -> None:
        self.speech_corpus, self.noise_corpus = speech, noise
        self._audio: dict[tuple[str, str], np.ndarray | Skip] = {}

    def speech(self, path: str) -> np.ndarray | Skip:
        return self._get("speech", path, self.speech_corpus.root, self.speech_corpus.sample_rate)

    def noise(self, path: str) -> np.ndarray | Skip:
        return self._get("noise", path, self.noise_corpus.root, self.noise_corpus.sample_rate)

    def clear(self) -> None:
        """Forget the audio read so far (it is read again when asked for)."""
        self._audio.clear()

    def _get(self, kind: str, path: str, root: Path, rate: int) -> np.ndarray | Skip:
        key = (kind, path)
        if key not in self._audio:
            self._audio[key] = load_audio(root, path, rate)
        return self._audio[key]


def split_speakers(speakers: list[str], seed: int) -> dict[str, list[str]]:
    """Speaker-disjoint split: sorted, shuffled by `seed`, 20 % test, 10 % val (each ≥ 1)."""
    if len(speakers) < 3:
        raise CorpusError(f"speaker-disjoint splits need at least 3 usable speakers, found {len(speakers)}")
    order = sorted(speakers)
    np.random.default_rng([seed, 7]).shuffle(order)
    n_test = max(1, round(SPEAKER_SHARE["test"] * len(order)))
    n_val = max(1, round(SPEAKER_SHARE["val"] * len(order)))
    return {
        "test": sorted(order[:n_test]),
        "val": sorted(order[n_test : n_test + n_val]),
        "train": sorted(order[n_test + n_val :]),
    }


def build_manifest(speech: SpeechCorpus, noise: NoiseCorpus, spec: MixSpec, cache: AudioCache) -> Manifest:
    speakers = split_speakers(list(speech.speakers), spec.seed)
    manifest = Manifest(
        corpora={"speech": speech.name, "noise": noise.name},
        spec={k: list(v) if isinstance(v, tuple) else v for k, v in asdict(spec).items()},
        speakers=speakers,
        folds={s: list(f) for s, f in NOISE_FOLDS.items()},
        mixtures={},
        skipped=list(speech.skipped) + list(noise.skipped),
    )
    for index, split in enumerate(SPLITS):
        utterances = [u for spk in speakers[split] for u in speech.speakers[spk]]
        clips = [c for c in noise.clips if c.fold in NOISE_FOLDS[split]]
        if not clips:
            raise CorpusError(f"{noise.root}: no clips in fold(s) {NOISE_FOLDS[split]} for the {split} split")
        drawer = _Drawer(np.random.default_rng([spec.seed, index]), cache, manifest, split, index)
        manifest.mixtures[split] = [
            drawer.mixture(spec, utterances, clips, f"{split}-{i:05d}") for i in range(spec.count(split))
        ]
    return manifest


def build_test_set(speech: SpeechCorpus, noise: NoiseCorpus, spec: MixSpec, cache: AudioCache, name: str) -> Manifest:
    """A test set of its own: `spec.n_test` mixtures drawing on every speaker and clip, as split `name`."""
    manifest = Manifest(
        corpora={"speech": speech.name, "noise": noise.name},
        spec={k: list(v) if isinstance(v, tuple) else v for k, v in asdict(spec).items()},
        speakers={name: sorted(speech.speakers)},
        folds={name: sorted({c.fold for c in noise.clips})},
        mixtures={},
        skipped=list(speech.skipped) + list(noise.skipped),
    )
    utterances = [u for spk in sorted(speech.speakers) for u in speech.speakers[spk]]
    drawer = _Drawer(np.random.default_rng([spec.seed, len(SPLITS)]), cache, manifest, name, len(SPLITS))
    manifest.mixtures[name] = [
        drawer.mixture(spec, utterances, list(noise.clips), f"{name}-{i:05d}") for i in range(spec.n_test)
    ]
    return manifest


def speech_activity(audio: np.ndarray) -> np.ndarray:
    """Boolean speech activity of a clean utterance per 10 ms frame (the last one may be partial)."""
    frames = -(-audio.size // HOP)
    padded = np.zeros(frames * HOP, dtype=np.float64)
    padded[: audio.size] = audio
    power = np.square(padded).reshape(frames, HOP).mean(axis=1)
    active = power >= power.max() * 10 ** (ACTIVITY_DB / 10)
    idx = np.flatnonzero(active)
    for left, right in zip(idx[:-1], idx[1:]):
        if 1 < right - left <= MAX_GAP_FRAMES + 1:
            active[left:right] = True
    return active


def render(entry: dict, cache: AudioCache) -> tuple[np.ndarray, np.ndarray]:
    """(mixture as float32 samples, uint8 speech label per 10 ms frame) of one manifest entry."""
    length = int(entry["samples"])
    speech = np.zeros(length, dtype=np.float64)
    labels = np.zeros(length // HOP, dtype=np.uint8)
    for part in entry["speech"]:
        audio = _usable(cache.speech(part["file"]))
        start, n, offset = part["start"], part["length"], part["offset"]
        speech[offset : offset + n] = audio[start : start + n]
        activity = speech_activity(audio)[start // HOP : start // HOP + -(-n // HOP)]
        labels[offset // HOP : offset // HOP + activity.size] |= activity.astype(np.uint8)
    noise = np.zeros(length, dtype=np.float64)
    for part in entry["noise"]:
        audio = _usable(cache.noise(part["file"]))
        noise[part["offset"] : part["offset"] + part["length"]] = audio[part["start"] : part["start"] + part["length"]]
    if entry.get("cutoff_hz"):
        speech = _low_passed(speech, float(entry["cutoff_hz"]))
    if entry.get("room"):
        speech = reverberate(speech, Room.from_dict(entry["room"]))
    speech_power = np.square(speech.reshape(-1, HOP)[labels.astype(bool)]).mean() if labels.any() else 0.0
    noise_power = np.square(noise).mean()
    mixture = speech + noise * np.sqrt(speech_power / (noise_power * 10 ** (entry["snr_db"] / 10)))
    mixture *= 10 ** (entry["level_dbfs"] / 20) / max(np.sqrt(np.square(mixture).mean()), 1e-12)
    peak = np.abs(mixture).max()
    if peak > 0.99:
        mixture *= 0.99 / peak
    return mixture.astype(np.float32), labels


class _Drawer:
    """The random choices of one split, skipping (and recording) unusable files as it meets them."""

    def __init__(
        self, rng: np.random.Generator, cache: AudioCache, manifest: Manifest, split: str, stream: int
    ) -> None:
        self.rng, self.cache, self.manifest, self.split, self.stream = rng, cache, manifest, split, stream

    def mixture(self, spec: MixSpec, utterances: list[Utterance], clips: list[Clip], name: str) -> dict:
        length = spec.samples
        entry: dict[str, object] = {
            "id": name,
            "samples": length,
            "snr_db": round(float(self.rng.uniform(*spec.snr_db)), 3),
            "level_dbfs": round(float(self.rng.uniform(*spec.level_dbfs)), 3),
        }
        tail = _frames(spec.edge_s[0]) * HOP
        pos, parts = _frames(self.rng.uniform(*spec.edge_s)) * HOP, list[dict[str, object]]()
        while (space := length - tail - pos) >= MIN_SAMPLES:
            utterance, audio = self._utterance(utterances, space)
            start, n = 0, audio.size
            if n > space:
                if parts:
                    break
                start, n = int(self.rng.integers(0, (n - space) // HOP + 1)) * HOP, space
            parts.append(
                {"file": utterance.path, "speaker": utterance.speaker, "offset": pos, "start": start, "length": n}
            )
            pos += -(-n // HOP) * HOP + _frames(self.rng.uniform(*spec.gap_s)) * HOP
        if not parts:
            raise CorpusError(f"a {spec.seconds} s mixture has no room for speech; use longer mixtures")
        entry["speech"] = parts
        if spec.bandlimit_share > 0 and self.rng.uniform() < spec.bandlimit_share:
            entry["cutoff_hz"] = round(float(self.rng.uniform(*spec.cutoff_hz)))
        if spec.reverb_share > 0 and self.rng.uniform() < spec.reverb_share:
            index = int(self.rng.integers(ROOMS))
            entry["room"] = draw_room(np.random.default_rng([spec.seed, 99, self.stream, index])).to_dict()
        entry["noise"] = self._noise(clips, length)
        return entry

    def _utterance(self, utterances: list[Utterance], space: int) -> tuple[Utterance, np.ndarray]:
        """A drawn utterance that fits `space` samples, else the last of `FIT_TRIES` draws."""
        for _ in range(FIT_TRIES):
            utterance, audio = self._draw(utterances, self.cache.speech, "speech")
            if audio.size <= space:
                break
        return utterance, audio

    def _noise(self, clips: list[Clip], length: int) -> list[dict]:
        for _ in range(NOISE_REDRAWS):
            parts, filled, power = [], 0, 0.0
            while filled < length:
                clip, audio = self._draw(clips, self.cache.noise, "noise")
                need = length - filled
                start = int(self.rng.integers(0, audio.size - need + 1)) if audio.size > need else 0
                n = min(audio.size - start, need)
                parts.append({"file": clip.path, "offset": filled, "start": start, "length": n})
                power += float(np.square(audio[start : start + n], dtype=np.float64).sum())
                filled += n
            if power / length > 1e-12:
                return parts
            self.manifest.noise_redraws += 1
        raise CorpusError(f"{self.split} split: {NOISE_REDRAWS} noise draws in a row were digital silence")

    def _draw(self, pool: list[T], load: Callable[[str], np.ndarray | Skip], kind: str) -> tuple[T, np.ndarray]:
        while pool:
            item = pool[int(self.rng.integers(len(pool)))]
            audio = load(item.path)
            if not isinstance(audio, Skip):
                return item, audio
            self.manifest.skipped.append(audio)
            pool.remove(item)
        raise CorpusError(f"no usable {kind} files left for the {self.split} split (see the manifest's skips)")


def _low_passed(audio: np.ndarray, cutoff_hz: float) -> np.ndarray:
    """`audio` through an 8th-order Butterworth low-pass, forwards and backwards (no delay: labels stay put)."""
    from scipy.signal import butter, sosfiltfilt

    return sosfiltfilt(butter(8, cutoff_hz, fs=SAMPLE_RATE, output="sos"), audio)


def _usable(audio: np.ndarray | Skip) -> np.ndarray:
    if isinstance(audio, Skip):  # the manifest never points at a skipped file
        raise CorpusError(f"{audio.item}: {audio.reason}, but the manifest uses it")
    return audio


def _frames(seconds: float) -> int:
    return int(round(seconds * SAMPLE_RATE / HOP))
