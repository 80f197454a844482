"""CM score files in the official ASVspoof 2019 LA format, and the organisers' way of scoring them.

One line per trial, `UTT ATTACK KEY SCORE`, e.g. `LA_E_2834763 A07 spoof -3.21` and
`LA_E_5013670 - bonafide 1.5` (what AASIST's `produce_evaluation_file` writes and the organisers'
`evaluate_tDCF_asvspoof19.py` reads: fields 2, 3 and 4 are source, key and score). A higher score
means more bona fide.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tradeoff_bench.tasks.asvspoof.protocol import KEYS, AsvScores, ProtocolError, Trial
from tradeoff_bench.tasks.asvspoof.tdcf import min_tdcf
from tradeoff_bench.tasks.scoring import equal_error_rate


@dataclass(frozen=True)
class ScoredTrial:
    utt: str
    attack: str
    key: str
    score: float


def format_score_file(trials: Sequence[Trial], scores: Sequence[float] | np.ndarray) -> str:
    """CM scores (one per trial, in order) as the text of an official score file."""
    if len(trials) != len(scores):
        raise ValueError(f"{len(trials)} trials but {len(scores)} scores")
    lines = []
    for trial, score in zip(trials, scores):
        value = float(score)
        if not math.isfinite(value):
            raise ValueError(f"score of {trial.utt} is {value}")
        lines.append(f"{trial.utt} {trial.attack} {trial.key} {value!r}\n")
    return "".join(lines)


def write_score_file(path: Path, trials: Sequence[Trial], scores: Sequence[float] | np.ndarray) -> None:
    """Write CM scores (one per trial, in order) atomically in the official format."""
    text = format_score_file(trials, scores)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w") as out:
        out.write(text)
    os.replace(temporary, path)


def read_score_file(path: Path) -> list[ScoredTrial]:
    """Trials of a CM score file; malformed lines are errors with their number."""
    rows = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        where = f"{path}:{number}"
        if len(fields) != 4:
            raise ProtocolError(f"{where}: expected 4 fields 'UTT ATTACK KEY SCORE', got {len(fields)}: {line!r}")
        utt, attack, key, score = fields
        if key not in KEYS:
            raise ProtocolError(f"{where}: unknown key {key!r} (expected 'bonafide' or 'spoof')")
        try:
            value = float(score)
        except ValueError:
            raise ProtocolError(f"{where}: score {score!r} is not a number") from None
        rows.append(ScoredTrial(utt, attack, key, value))
    return rows


def score_metrics(rows: Sequence[ScoredTrial], asv: AsvScores | None = None) -> dict[str, float]:
    """EER in % (pooled and `eer@ATTACK` per attack) and, given ASV scores, min t-DCF."""
    scores = np.array([r.score for r in rows])
    keys = np.array([r.key for r in rows])
    attacks = np.array([r.attack for r in rows])
    bonafide, spoof = scores[keys == "bonafide"], scores[keys == "spoof"]
    metrics = {"eer": 100 * equal_error_rate(bonafide, spoof)[0]}
    for attack in sorted(set(attacks[keys == "spoof"])):
        spoofed_by = scores[(keys == "spoof") & (attacks == attack)]
        metrics[f"eer@{attack}"] = 100 * equal_error_rate(bonafide, spoofed_by)[0]
    if asv is not None:
        metrics["min_tdcf"] = min_tdcf(bonafide, spoof, asv)
    return metrics
