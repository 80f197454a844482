"""`asvspoof2019-mini`: a small offline corpus in the exact layout and protocol format of ASVspoof 2019 LA.

Bona fide speech is espeak-ng (many voice variants, pitches and rates as speakers; train, dev and
eval speakers disjoint) or, where the machine has some, recorded speech: set
`TRADEOFF_BENCH_ASVSPOOF_SPEECH=/folder` (16 kHz-or-any-rate WAV/FLAC files in one sub-folder per
speaker, e.g. a VCTK copy, or vad-mini's recorded voices: `data/vctk-mini/wav48_silence_trimmed`;
with fewer speakers than the size asks, the partitions keep its shares) before
`tradeoff-bench data generate asvspoof2019-mini`. Spoofs are bona
fide utterances of the same split re-synthesised through the vocoders of `vocoders.py`, one attack
id per vocoder, the eval attacks never seen in train/dev. Unlike the real corpus (dev: A01–A06, the
train attacks), dev adds a held-out attack never seen in train or eval (`vocoders.DEV_ATTACKS`), so
that model selection on dev sees an unseen attack as eval does. It exists to exercise the real code path
offline and to give methods a non-trivial detection task — not to claim anti-spoofing results.
There are no ASV scores for it, so it has no t-DCF.

Generation writes into a temporary folder under the root and renames its `LA/` (with the marker
file `LA/asvspoof2019-mini.json` that tells it from the real corpus) into place in one atomic step,
under an exclusive lock, so parallel workers asking for the same corpus generate it once.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tradeoff_bench.core.errors import UserError
from tradeoff_bench.tasks.asvspoof import speech
from tradeoff_bench.tasks.asvspoof.protocol import PARTITIONS, PROTOCOL_DIR, Trial, audio_dir, protocol_path
from tradeoff_bench.tasks.asvspoof.vocoders import DEV_ATTACKS, SAMPLE_RATE, Attack, attacks_of
from tradeoff_bench.tasks.audio import write_audio
from tradeoff_bench.tasks.corpora import announce_generation, generation_lock, progress, register_corpus

NAME = "asvspoof2019-mini"
MARKER = "asvspoof2019-mini.json"
GENERATOR_VERSION = 6
SPEECH_ENV = "TRADEOFF_BENCH_ASVSPOOF_SPEECH"


@dataclass(frozen=True)
class MiniSize:
    """Utterance counts per partition: bona fide, spoofs per attack shared with train (eval: per
    eval attack), spoofs per held-out dev attack (`vocoders.DEV_ATTACKS`), speakers."""

    bonafide: dict[str, int]
    per_attack: dict[str, int]
    held_out: int
    speakers: dict[str, int]

    def spoofs(self, partition: str, attack: Attack) -> int:
        return self.held_out if attack in DEV_ATTACKS else self.per_attack[partition]


SIZES = {
    "default": MiniSize(
        bonafide={"train": 480, "dev": 120, "eval": 720},
        per_attack={"train": 240, "dev": 20, "eval": 540},
        held_out=120,
        speakers={"train": 32, "dev": 6, "eval": 10},
    ),
    "tiny": MiniSize(
        bonafide={"train": 8, "dev": 4, "eval": 4},
        per_attack={"train": 3, "dev": 1, "eval": 2},
        held_out=2,
        speakers={"train": 2, "dev": 2, "eval": 2},
    ),
}
"""The default eval partition (2,880 trials) bounds one model's EER to a 95 % bootstrap half-width of
about 1 pt near 5 % EER (160 + 4 × 120 gave 2 pt; README); growing it leaves train and dev as they
were (their speakers, utterances, file names and audio come first in every random stream).
The default train partition is what makes width matter. `dense` in the default grid (5 epochs,
seeds 0–2), full width / half width: with 160 bona fide + 4 × 80 spoofs 11–22 % / 15–17 % EER, no
better than half width; with 480 + 4 × 240 3.75–13.75 % / 9.4–14.5 %.
The dev partition (version 6) holds 120 bona fide, 4 × 20 spoofs of the train attacks (as in
version 5) and 120 of the held-out attack, so that its pooled EER rests mostly on an attack the
model has not seen: with the train attacks alone (40 + 4 × 20) the full model's dev EER was 0 from
epoch 2–10 on and could select neither an epoch nor a schedule. Train is written bit for bit as in
version 5 (it comes first in every random stream); eval keeps its sizes and attacks, but its
bona fide utterances and file names move with dev's larger draw."""


class CorpusExistsError(UserError, RuntimeError):
    """The target folder holds something that is not this generated corpus."""


def read_marker(root: Path) -> dict | None:
    """The generator's description of a generated corpus at `root` (in LA/), or None for any other."""
    path = Path(root) / "LA" / MARKER
    return json.loads(path.read_text()) if path.is_file() else None


def generate(root: Path, seed: int = 0, size: str = "default", speech_dir: Path | None = None) -> None:
    """Write the mini corpus under `root` unless it is already there (same seed and size)."""
    root = Path(root)
    wanted = {
        "name": NAME,
        "version": GENERATOR_VERSION,
        "seed": seed,
        "size": size,
        "bonafide_source": "recorded" if speech_dir else "espeak-ng",
    }
    root.mkdir(parents=True, exist_ok=True)
    with generation_lock(root / f".{NAME}.lock"):
        marker = read_marker(root)
        if marker is not None:
            found = {k: marker.get(k) for k in wanted}
            if found == wanted:
                return
            if not _older_version(found, wanted):
                raise CorpusExistsError(
                    f"{root} holds {NAME} generated with {found}, not {wanted}; "
                    "choose another root (or delete this one to regenerate it)"
                )
            # an older version of this corpus: set aside (removed with the leftovers below) and regenerated
            os.rename(root / "LA", root / f".{NAME}.partial-old-{os.getpid()}")
        if (root / "LA").exists():
            raise CorpusExistsError(f"{root}/LA exists but is not a generated {NAME}; choose another root")
        for stale in root.glob(f".{NAME}.partial-*"):
            shutil.rmtree(stale, ignore_errors=True)
        partial = root / f".{NAME}.partial-{os.getpid()}"
        announce_generation(NAME, root / "LA")
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # small FFTs and filters: threads only add contention
        try:
            attacks = _write(partial, seed, SIZES[size], speech_dir)
            description = {
                **wanted,
                "attacks": attacks,
                "asv_scores": None,
                "note": "generated proxy corpus; not ASVspoof 2019 data, no ASV scores (EER only)",
            }
            (partial / "LA" / MARKER).write_text(json.dumps(description, indent=1) + "\n")
            os.rename(partial / "LA", root / "LA")  # atomic: the corpus with its marker, or nothing
        finally:
            torch.set_num_threads(threads)
            shutil.rmtree(partial, ignore_errors=True)


@register_corpus(NAME, "ASVspoof 2019 LA layout: espeak-ng bona fide + vocoded spoofs, unseen eval attacks")
def generate_default(root: Path, seed: int) -> None:
    speech_dir = os.environ.get(SPEECH_ENV)
    generate(root, seed, "default", Path(speech_dir) if speech_dir else None)


def _older_version(found: dict, wanted: dict) -> bool:
    """Whether `found` is this corpus (same seed, size and source) from an earlier generator version."""
    same = all(found[k] == wanted[k] for k in wanted if k != "version")
    return same and isinstance(found["version"], int) and found["version"] < wanted["version"]


def speaker_counts(wanted: dict[str, int], available: int | None) -> dict[str, int]:
    """Speakers per partition: `wanted`, or where fewer recorded speakers exist (e.g. the 20 voices of
    vctk-mini), the same shares of those (dev and eval at least one each), still disjoint."""
    total = sum(wanted.values())
    if available is None or available >= total:
        return dict(wanted)
    if available < 3:
        raise ValueError(f"disjoint train/dev/eval speakers need at least 3 recorded speakers, found {available}")
    dev, evaluation = (max(1, round(available * wanted[p] / total)) for p in ("dev", "eval"))
    return {"train": available - dev - evaluation, "dev": dev, "eval": evaluation}


def _write(base: Path, seed: int, size: MiniSize, speech_dir: Path | None) -> dict[str, dict[str, str]]:
    """Write every partition under `base`; returns the attack table {partition: {id: description}}."""
    source = speech.RecordedSpeech(speech_dir) if speech_dir else speech.EspeakSpeech()
    counts = speaker_counts(size.speakers, source.available if isinstance(source, speech.RecordedSpeech) else None)
    speakers = source.speakers(sum(counts.values()), np.random.default_rng([seed, 0]))
    plan: dict[str, list[tuple[speech.Speaker, int]]] = {}  # partition -> (speaker, its utterance index)
    first = 0
    for partition in PARTITIONS:
        mine = speakers[first : first + counts[partition]]
        first += counts[partition]
        plan[partition] = [(mine[i % len(mine)], i // len(mine)) for i in range(size.bonafide[partition])]
    waves = iter(source.render([r for p in PARTITIONS for r in plan[p]], np.random.default_rng([seed, 2])))
    bonafide = {p: [(speaker.speaker_id, next(waves)) for speaker, _ in plan[p]] for p in PARTITIONS}
    jobs = []  # (partition, attack index, spoof index, speaker, source wave): spoof j of attack a
    for partition in PARTITIONS:
        attacks = attacks_of(partition)
        sources = bonafide[partition]
        rotating = sum(a not in DEV_ATTACKS for a in attacks)
        for a_index, attack in enumerate(attacks):
            for j in range(size.spoofs(partition, attack)):
                # an attack shared with train rotates over the partition's bona fide with the others
                # (as in version 5); a held-out one takes each bona fide utterance in turn
                shared = attack not in DEV_ATTACKS
                speaker, wave = sources[(j * rotating + a_index) % len(sources) if shared else j % len(sources)]
                jobs.append((partition, a_index, j, speaker, wave))
    spoofs = _vocode_all([(p, a, j, wave) for p, a, j, _, wave in jobs], seed)

    numbers = iter(np.random.default_rng([seed, 1]).permutation(np.arange(1_000_000, 10_000_000, 7)))
    (base / "LA" / PROTOCOL_DIR).mkdir(parents=True)
    for p_index, partition in enumerate(PARTITIONS):
        folder = audio_dir(base, partition)
        folder.mkdir(parents=True)
        letter = PARTITIONS[partition][2]
        rng = np.random.default_rng([seed, 4, p_index])
        trials = [
            _save(folder, letter, numbers, speaker, "-", _level(wave, rng)) for speaker, wave in bonafide[partition]
        ]
        for (p, a_index, _, speaker, _), spoofed in zip(jobs, spoofs):
            if p == partition:
                attack_id = attacks_of(partition)[a_index].attack_id
                trials.append(_save(folder, letter, numbers, speaker, attack_id, _level(spoofed, rng)))
        trials.sort(key=lambda t: (t.speaker, t.utt))
        lines = "".join(f"{t.speaker} {t.utt} - {t.attack} {t.key}\n" for t in trials)
        protocol_path(base, partition).write_text(lines)
    return {p: {a.attack_id: a.description for a in attacks_of(p)} for p in PARTITIONS}


def _vocode_all(jobs: list[tuple[str, int, int, np.ndarray]], seed: int) -> list[np.ndarray]:
    """Every spoof, in job order; in worker processes when this process may have children."""
    tasks = [(partition, a_index, j, wave, seed) for partition, a_index, j, wave in jobs]
    workers = min(4, os.cpu_count() or 1)
    if workers < 2 or multiprocessing.current_process().daemon or len(tasks) < 32:
        return list(progress(map(_vocode, tasks), len(tasks), "vocoding spoofs"))
    context = multiprocessing.get_context("spawn")  # no fork: torch's thread pools do not survive it
    with ProcessPoolExecutor(workers, mp_context=context, initializer=torch.set_num_threads, initargs=(1,)) as pool:
        return list(progress(pool.map(_vocode, tasks, chunksize=8), len(tasks), "vocoding spoofs"))


def _vocode(task: tuple[str, int, int, np.ndarray, int]) -> np.ndarray:
    partition, a_index, j, wave, seed = task
    p_index = list(PARTITIONS).index(partition)
    attack = attacks_of(partition)[a_index]
    return _fit(attack.synthesize(wave, np.random.default_rng([seed, 3, p_index, a_index, j])), len(wave))


def _save(folder: Path, letter: str, numbers: Iterator[int], speaker: str, attack: str, wave: np.ndarray) -> Trial:

    utt = f"LA_{letter}_{int(next(numbers)):07d}"
    path = folder / f"{utt}.flac"
    write_audio(path, wave, SAMPLE_RATE, format="FLAC", subtype="PCM_16", compression_level=0.0)
    return Trial(speaker, utt, attack, "bonafide" if attack == "-" else "spoof")


def _fit(wave: np.ndarray, length: int) -> np.ndarray:
    """The vocoded wave at the source's length (WORLD and codecs may add or drop a few samples)."""
    out = np.zeros(length, dtype=np.float32)
    out[: min(length, len(wave))] = wave[:length]
    return np.nan_to_num(out)


def _level(wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Every file at -26 dBFS RMS ± 6 dB over a noise floor at -80 dBFS ± 6 dB, peak-limited.

    Neither level nor digital silence is a cue (espeak-ng's pauses are exact zeros and some
    vocoders fill them: the silence shortcut of the real corpus, which a detector should not learn).
    """
    rms = float(np.sqrt(np.mean(wave.astype(np.float64) ** 2))) or 1.0
    gain = 10 ** ((-26 + rng.uniform(-6, 6)) / 20) / rms
    floor = 10 ** ((-80 + rng.uniform(-6, 6)) / 20)
    out = wave * gain + floor * rng.standard_normal(len(wave))
    peak = float(np.abs(out).max())
    return (out * (0.99 / peak) if peak > 0.99 else out).astype(np.float32)
