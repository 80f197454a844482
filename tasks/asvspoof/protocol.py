"""The ASVspoof 2019 LA layout, CM protocols and organisers' ASV score files, read and validated.

Layout under the corpus root:

    LA/ASVspoof2019_LA_{train,dev,eval}/flac/LA_{T,D,E}_<7 digits>.flac
    LA/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.{train.trn,dev.trl,eval.trl}.txt
    LA/ASVspoof2019_LA_asv_scores/ASVspoof2019.LA.asv.{dev,eval}.gi.trl.scores.txt

A CM protocol line is `SPEAKER UTT - ATTACK KEY`, e.g. `LA_0079 LA_T_1138215 - A01 spoof`, with
ATTACK `-` for bona fide. (The corpus README lists fields 3 and 4 the other way round; the files
are authoritative.) An ASV score line is `SOURCE ASV_KEY SCORE`: `bonafide target 7.98`,
`bonafide nontarget -3.1`, `A01 spoof 2.4` — the first field is `bonafide` or, for spoofed trials,
the attack id (`spoof` is accepted too); the official tDCF_python reads only fields 2 and 3.
Every malformed line is an error naming the file and line; so are protocol ids without a file,
files without a protocol id, and (when audio is read) unreadable FLAC files.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from tradeoff_bench.core.errors import UserError

SPLITS = {"train": "train", "val": "dev", "test": "eval"}
"""Task split -> corpus partition."""

PARTITIONS = {
    "train": ("ASVspoof2019_LA_train", "ASVspoof2019.LA.cm.train.trn.txt", "T"),
    "dev": ("ASVspoof2019_LA_dev", "ASVspoof2019.LA.cm.dev.trl.txt", "D"),
    "eval": ("ASVspoof2019_LA_eval", "ASVspoof2019.LA.cm.eval.trl.txt", "E"),
}
PROTOCOL_DIR = "ASVspoof2019_LA_cm_protocols"
ASV_DIR = "ASVspoof2019_LA_asv_scores"
PUBLISHED_COUNTS = {"train": (2_580, 22_800), "dev": (2_548, 22_296), "eval": (7_355, 63_882)}
"""(bona fide, spoof) utterances per partition of the real corpus."""
KEYS = ("bonafide", "spoof")
ASV_KEYS = ("target", "nontarget", "spoof")
_ATTACK = re.compile(r"A\d\d")
_SPEAKER = re.compile(r"LA_\d{4}")


class ProtocolError(UserError, ValueError):
    """A protocol, score file or corpus folder that does not match the ASVspoof 2019 LA format."""


@dataclass(frozen=True)
class Trial:
    speaker: str
    utt: str
    attack: str
    """'-' for bona fide, else the attack id (A01...)."""
    key: str
    """'bonafide' or 'spoof'."""

    @property
    def bonafide(self) -> bool:
        return self.key == "bonafide"


def protocol_path(root: Path, partition: str) -> Path:
    return root / "LA" / PROTOCOL_DIR / PARTITIONS[partition][1]


def audio_dir(root: Path, partition: str) -> Path:
    return root / "LA" / PARTITIONS[partition][0] / "flac"


def asv_score_path(root: Path, partition: str) -> Path:
    return root / "LA" / ASV_DIR / f"ASVspoof2019.LA.asv.{partition}.gi.trl.scores.txt"


def read_protocol(path: Path, partition: str) -> list[Trial]:
    """Trials of a CM protocol file, in file order; malformed lines are errors with their number."""
    if not path.is_file():
        raise ProtocolError(f"missing CM protocol {path}")
    letter = PARTITIONS[partition][2]
    utt_pattern = re.compile(rf"LA_{letter}_\d{{7}}")
    trials, seen = [], set()
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        fields = line.split()
        if len(fields) != 5:
            raise ProtocolError(f"{where}: expected 5 fields 'SPEAKER UTT - ATTACK KEY', got {len(fields)}: {line!r}")
        speaker, utt, dash, attack, key = fields
        if key not in KEYS:
            raise ProtocolError(f"{where}: unknown key {key!r} (expected 'bonafide' or 'spoof')")
        if dash != "-":
            swapped = " (fields 3 and 4 swapped, as in the corpus README? the files put '-' third)"
            swapped = swapped if attack == "-" else ""
            raise ProtocolError(f"{where}: field 3 must be '-', got {dash!r}{swapped}")
        if key == "bonafide" and attack != "-":
            raise ProtocolError(f"{where}: a bona fide trial must have attack '-', got {attack!r}")
        if key == "spoof" and not _ATTACK.fullmatch(attack):
            raise ProtocolError(f"{where}: unknown attack id {attack!r} for a spoof trial (expected A01...A19)")
        if not _SPEAKER.fullmatch(speaker):
            raise ProtocolError(f"{where}: speaker {speaker!r} is not of the form LA_0000")
        if not utt_pattern.fullmatch(utt):
            raise ProtocolError(f"{where}: utterance id {utt!r} is not of the form LA_{letter}_0000000 ({partition})")
        if utt in seen:
            raise ProtocolError(f"{where}: utterance {utt} is listed twice")
        seen.add(utt)
        trials.append(Trial(speaker, utt, attack, key))
    if not trials:
        raise ProtocolError(f"{path}: no trials")
    return trials


def check_files(root: Path, partition: str, trials: list[Trial]) -> list[Path]:
    """The FLAC path of every trial; ids without files and files without ids are errors."""
    folder = audio_dir(root, partition)
    if not folder.is_dir():
        raise ProtocolError(f"missing audio folder {folder}")
    on_disk = {p.stem for p in folder.glob("*.flac")}
    listed = {t.utt for t in trials}
    missing, extra = sorted(listed - on_disk), sorted(on_disk - listed)
    protocol = protocol_path(root, partition).name
    if missing:
        raise ProtocolError(f"{len(missing)} utterance(s) of {protocol} have no file in {folder}: {_some(missing)}")
    if extra:
        raise ProtocolError(
            f"{len(extra)} file(s) in {folder} are not in {protocol}: {_some([e + '.flac' for e in extra])}"
        )
    return [folder / f"{t.utt}.flac" for t in trials]


def count_note(partition: str, trials: list[Trial]) -> str | None:
    """None when the partition has the published counts; a 'subset' note when it has fewer."""
    bona = sum(t.bonafide for t in trials)
    counts, published = (bona, len(trials) - bona), PUBLISHED_COUNTS[partition]
    if counts == published:
        return None
    if counts[0] > published[0] or counts[1] > published[1]:
        raise ProtocolError(
            f"{partition}: {counts[0]:,} bona fide + {counts[1]:,} spoof trials, more than the published "
            f"{published[0]:,} + {published[1]:,}: this is not the ASVspoof 2019 LA protocol"
        )
    return (
        f"{partition}: a subset — {counts[0]:,} bona fide + {counts[1]:,} spoof of the published "
        f"{published[0]:,} + {published[1]:,}"
    )


@dataclass(frozen=True)
class AsvScores:
    """The organisers' ASV scores of one partition, by ASV key."""

    target: list[float]
    nontarget: list[float]
    spoof: list[float]


def read_asv_scores(path: Path) -> AsvScores:
    """An organisers' ASV score file (`SOURCE ASV_KEY SCORE` per line), validated line by line."""
    if not path.is_file():
        raise ProtocolError(f"missing ASV score file {path}")
    groups: dict[str, list[float]] = {key: [] for key in ASV_KEYS}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        fields = line.split()
        if len(fields) != 3:
            raise ProtocolError(f"{where}: expected 3 fields 'SOURCE ASV_KEY SCORE', got {len(fields)}: {line!r}")
        source, asv_key, score = fields
        spoofed = source == "spoof" or bool(_ATTACK.fullmatch(source))
        if source != "bonafide" and not spoofed:
            raise ProtocolError(
                f"{where}: unknown source {source!r} (expected 'bonafide', 'spoof' or an attack id A01...)"
            )
        if asv_key not in ASV_KEYS:
            raise ProtocolError(f"{where}: unknown ASV key {asv_key!r} (expected one of {', '.join(ASV_KEYS)})")
        if spoofed != (asv_key == "spoof"):
            raise ProtocolError(f"{where}: source {source!r} contradicts ASV key {asv_key!r}")
        try:
            value = float(score)
        except ValueError:
            raise ProtocolError(f"{where}: score {score!r} is not a number") from None
        if not math.isfinite(value):
            raise ProtocolError(f"{where}: score {score!r} is not finite")
        groups[asv_key].append(value)
    missing = [key for key, values in groups.items() if not values]
    if missing:
        raise ProtocolError(f"{path}: no {', '.join(missing)} trials; the t-DCF needs all three ASV keys")
    return AsvScores(groups["target"], groups["nontarget"], groups["spoof"])


def _some(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")
