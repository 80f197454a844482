"""A corpus root resolved into validated partitions, and their features cached in memory.

`open_corpus` decides what a root holds: the generated `asvspoof2019-mini` (it carries the
generator's marker file) or the real ASVspoof 2019 LA (validated against the published counts).
`load_partition` reads and featurises a partition once per process (grid workers run many cells
of one task), normalising every feature by the train partition's mean and standard deviation.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from tradeoff_bench.tasks.asvspoof import mini
from tradeoff_bench.tasks.asvspoof.features import FrontEnd, featurize
from tradeoff_bench.tasks.asvspoof.protocol import (
    PARTITIONS,
    AsvScores,
    ProtocolError,
    Trial,
    asv_score_path,
    check_files,
    count_note,
    read_asv_scores,
    read_protocol,
)


@dataclass(frozen=True)
class Partition:
    trials: tuple[Trial, ...]
    paths: tuple[Path, ...]


@dataclass(frozen=True)
class Corpus:
    root: Path
    name: str
    partitions: dict[str, Partition]
    asv: dict[str, AsvScores | None]
    notes: tuple[str, ...] = field(default=())
    """Subset notes (real corpus) and what is absent (ASV scores)."""

    @property
    def generated(self) -> bool:
        return self.name.startswith(mini.NAME)


def open_corpus(root: Path, max_utterances: int | None, seed: int) -> Corpus:
    """Read and validate the protocols, files and ASV scores under `root`."""
    root = Path(root)
    if not (root / "LA").is_dir():
        raise ProtocolError(
            f"no ASVspoof 2019 LA corpus at {root} (expected {root}/LA/ASVspoof2019_LA_cm_protocols, ...). "
            f"Point `root` at the folder holding LA/, or generate the offline corpus with "
            f"`tradeoff-bench data generate {mini.NAME} --root {root}`"
        )
    marker = mini.read_marker(root)
    notes: list[str] = []
    partitions = {}
    for partition in PARTITIONS:
        trials = read_protocol(root / "LA" / "ASVspoof2019_LA_cm_protocols" / PARTITIONS[partition][1], partition)
        paths = check_files(root, partition, trials)
        if marker is None:
            note = count_note(partition, trials)
            if note:
                notes.append(note)
        if max_utterances is not None and max_utterances < len(trials):
            keep = stratified_subset(trials, max_utterances, seed)
            notes.append(f"{partition}: a subset of {len(keep):,} of {len(trials):,} trials (max_utterances)")
            trials, paths = [trials[i] for i in keep], [paths[i] for i in keep]
        partitions[partition] = Partition(tuple(trials), tuple(paths))
    asv: dict[str, AsvScores | None] = {"train": None, "dev": None, "eval": None}
    if marker is None:
        for partition in ("dev", "eval"):
            path = asv_score_path(root, partition)
            asv[partition] = read_asv_scores(path) if path.is_file() else None
            if asv[partition] is None:
                notes.append(f"{partition}: no ASV score file {path.name}, so no min t-DCF")
        name = "asvspoof2019-LA" + (" (subset)" if any("subset" in n for n in notes) else "")
        if notes:
            warnings.warn(f"ASVspoof 2019 LA at {root}: {'; '.join(notes)}", stacklevel=2)
    else:
        notes.append("generated corpus: no ASV scores, so EER only (no t-DCF)")
        name = corpus_name(marker) + (" (subset)" if max_utterances is not None else "")
    return Corpus(root, name, partitions, asv, tuple(notes))


def corpus_name(marker: dict) -> str:
    extras = [marker["size"]] if marker.get("size") != "default" else []
    if marker.get("bonafide_source") == "recorded":
        extras.append("recorded bona fide")
    return mini.NAME + (f" ({', '.join(extras)})" if extras else "")


def stratified_subset(trials: list[Trial], count: int, seed: int) -> list[int]:
    """Indices (in protocol order) of exactly `count` trials, bona fide and every attack kept in
    proportion (largest remainders, at least one trial each)."""
    groups: dict[str, list[int]] = {}
    for index, trial in enumerate(trials):
        groups.setdefault(trial.attack, []).append(index)
    if count < len(groups):
        raise ValueError(
            f"max_utterances={count} cannot keep one trial of each of the {len(groups)} classes "
            "(bona fide and every attack) of a partition"
        )
    names = sorted(groups)
    quotas = [count * len(groups[name]) / len(trials) for name in names]
    shares = [max(1, int(quota)) for quota in quotas]
    by_remainder = sorted(range(len(names)), key=lambda i: quotas[i] - int(quotas[i]), reverse=True)
    while sum(shares) > count:  # the floor of one trial each overshot: take from the largest shares
        shares[max(range(len(names)), key=lambda i: (shares[i], -i))] -= 1
    for i in itertools.islice(itertools.cycle(by_remainder), len(names) * count):
        if sum(shares) == count:
            break
        if shares[i] < len(groups[names[i]]):
            shares[i] += 1
    rng = np.random.default_rng(seed)
    keep: list[int] = []
    for name, share in zip(names, shares):
        keep += rng.choice(groups[name], size=share, replace=False).tolist()
    return sorted(keep)


@dataclass(frozen=True)
class Features:
    x: torch.Tensor
    """(utterances, features, frames), normalised; float16 for the real corpus (memory)."""
    y: torch.Tensor
    """1 = bona fide, 0 = spoof."""


_CACHE: dict[tuple, Features] = {}


def load_partition(corpus: Corpus, partition: str, front_end: FrontEnd) -> Features:
    """Normalised features and labels of a partition, computed once per process."""
    configuration = (str(corpus.root.resolve()), corpus.name, front_end)
    key = (*configuration, partition, hash(corpus.partitions[partition].trials))
    if key not in _CACHE:
        for stale in [k for k in _CACHE if k[:3] != configuration]:
            del _CACHE[stale]  # one corpus and front end at a time: bounded memory
        raw = featurize(list(corpus.partitions[partition].paths), front_end)
        labels = torch.tensor([t.bonafide for t in corpus.partitions[partition].trials], dtype=torch.long)
        _CACHE[key] = Features(normalise(corpus, front_end, raw, raw if partition == "train" else None), labels)
    return _CACHE[key]


def normalise(
    corpus: Corpus, front_end: FrontEnd, raw: torch.Tensor, train: torch.Tensor | None = None
) -> torch.Tensor:
    """Features standardised by the corpus's train statistics (`train`: its train features, if at
    hand), kept in half precision on a real corpus, as the model is trained and evaluated on them."""
    mean, std = _train_statistics(corpus, front_end, train)
    x = (raw - mean) / std
    return x if corpus.generated else x.half()


_STATS: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}


def _train_statistics(
    corpus: Corpus, front_end: FrontEnd, train: torch.Tensor | None, sample: int = 2000
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-feature mean and std over the train features (`train`, or `sample` evenly spread files)."""
    key = (str(corpus.root.resolve()), corpus.name, front_end, hash(corpus.partitions["train"].trials))
    if key not in _STATS:
        paths = list(corpus.partitions["train"].paths)
        step = max(1, len(paths) // sample)  # the same files whichever partition is loaded first
        train = featurize(paths[::step], front_end) if train is None else train[::step]
        _STATS.clear()
        _STATS[key] = (train.mean(dim=(0, 2))[:, None], train.std(dim=(0, 2))[:, None].clamp_min(1e-5))
    return _STATS[key]
