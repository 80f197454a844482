"""`asvspoof2019`: ASVspoof 2019 LA spoofing countermeasures, on the real corpus or its offline proxy.

Splits: train = ASVspoof2019_LA_train, val = dev, test = eval (attacks unseen in train/dev).
The model reads the log power spectrogram (or LFCC) of one utterance cropped or tiled to 64,600
samples and returns (spoof, bona fide) logits; its score is their difference, bona fide the
positive class. The front end runs in the data pipeline (features cached in memory), so MACs are
the network's on one utterance's features.
Metrics: EER in % (pooled, and `eer@Axx` per eval attack) by the organisers' recipe, and min t-DCF
with the ASVspoof 2019 cost model when the organisers' ASV scores are there (the real corpus only).

With `root` unset the task uses the generated `asvspoof2019-mini` under `data/asvspoof2019-mini`
(relative to the working directory), generating it on first use; `root` may point at the real
corpus (the folder holding `LA/`) or at a generated one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn

from tradeoff_bench.core.registry import Epochs, SettingError
from tradeoff_bench.tasks.asvspoof import data, mini, models
from tradeoff_bench.tasks.asvspoof.features import UTTERANCE_SAMPLES, FrontEnd
from tradeoff_bench.tasks.asvspoof.peers import published_peers
from tradeoff_bench.tasks.asvspoof.protocol import SPLITS
from tradeoff_bench.tasks.asvspoof.scorefile import ScoredTrial, format_score_file, score_metrics, write_score_file
from tradeoff_bench.tasks.base import TASKS, Batch, GateFactory, LastOutputs, Peer, Task, TrainRecipe, model_device
from tradeoff_bench.tasks.metrics import ItemScores
from tradeoff_bench.tasks.targets import QualityTarget
from tradeoff_bench.tasks.user_model import check_model_name

TINY_ROOT = Path(tempfile.gettempdir()) / f"tradeoff-bench-{os.getuid()}" / f"tiny-v{mini.GENERATOR_VERSION}"
"""Where the tiny corpus of the contract tests is generated: outside any repository, per user and
generator version (so that checkouts of other versions never share it)."""


@TASKS.register("asvspoof2019")
@dataclass
class ASVspoofTask(Task):
    """ASVspoof 2019 LA countermeasure: bona fide vs spoofed speech, EER on unseen attacks."""

    model: str = "resnet34"
    """The family: the paper's ResNet34-style CNN (its depth is `blocks`) or an LCNN; or a builder of
    your own, `FILE.py:FUNCTION` / `MODULE:FUNCTION` / an entry point (README, "Bring your own
    model"): features (batch, features, frames) -> logits (spoof, bona fide) per utterance (batch, 2)."""
    root: str | None = None
    """The corpus (the folder holding LA/); None: the generated mini corpus, generated if missing."""
    mini_size: Literal["default", "tiny"] = "default"
    """Size of the corpus generated when `root` is None; 'tiny' (tests) lives in the temp folder."""
    data_seed: int = 0
    max_utterances: int | None = None
    """Use a stratified subset of at most this many trials per partition (a "(subset)" corpus)."""
    features: Literal["lfcc", "logspec"] = "logspec"
    n_lfcc: int = 20
    n_fft: int = 256
    """FFT size of the front end (20 ms windows, 10 ms hop; a shorter window when n_fft < 320)."""
    width_multiplier: float = 0.125
    """Scales the family's base widths (ResNet 32/64/128/256: ImageNet ResNet34's halved)."""
    blocks: tuple[int, ...] = (1, 1, 1, 1)
    """ResNet blocks per stage; the paper's ResNet34 is (3, 4, 6, 3)."""
    stem_stride: int = 2
    stem_pool: bool = True
    """ResNet stem: a 3×3 convolution with this stride, then (if set) a 3×3 max pool of stride 2."""
    epochs: Epochs = 10
    """Where the dev EER plateaus on the mini corpus (version 6, whose dev holds the held-out attack
    A05; README, learning curves): mean over seeds 0 and 1 16.25, 13.75, 13.29 % after 5, 10, 20
    epochs; 20 epochs gain 3.5 % relative at twice the cost. Never chosen by the test EER."""
    batch_size: int = 16
    lr: float = 3e-3
    weight_decay: float = 1e-4

    name = "asvspoof2019"
    primary_metric = "eer"
    model_families = ("resnet34", "lcnn")
    quality_target = QualityTarget(1.0)  # within +1 pt EER of the full dense model
    description = "ASVspoof 2019 LA anti-spoofing (EER %, min t-DCF on the real corpus); offline: asvspoof2019-mini"
    tiny_variants = (
        {"mini_size": "tiny", "n_fft": 64, "epochs": 1, "batch_size": 8},
        {"mini_size": "tiny", "model": "lcnn", "features": "lfcc", "n_lfcc": 8, "epochs": 1, "batch_size": 8},
    )

    def __post_init__(self) -> None:
        check_model_name(self.model, self.model_families)
        if self.width_multiplier <= 0 or self.stem_stride < 1 or self.n_lfcc < 1 or self.epochs < 1:
            raise ValueError("width_multiplier, stem_stride, n_lfcc and epochs must be positive")
        if self.max_utterances is not None and self.max_utterances < 2:
            raise ValueError("max_utterances must be at least 2 (both classes)")
        models.resnet_knobs(self.blocks, 1.0)  # validates the block counts
        self._outputs = LastOutputs()
        if self.root is not None and not (Path(self.root) / "LA").is_dir():
            raise SettingError(
                f"root {self.root}: no ASVspoof 2019 LA corpus there (no LA/ folder). Point `root` at the "
                f"folder holding LA/, or generate the offline corpus: "
                f"tradeoff-bench data generate {mini.NAME} --root DIR"
            )

    # --- identity and data --------------------------------------------------------------------
    @property
    def corpus(self) -> str:
        return self._corpus.name

    def corpus_version(self) -> str | None:
        """The mini generator's version where it makes the corpus (`root` unset)."""
        return f"{mini.NAME} {mini.GENERATOR_VERSION}" if self.root is None else None

    @property
    def cost_unit(self) -> str:
        return f"utterance of {UTTERANCE_SAMPLES:,} samples"

    @property
    def corpus_root(self) -> Path:
        if self.root is not None:
            return Path(self.root)
        seeded = mini.NAME if self.data_seed == 0 else f"{mini.NAME}-seed{self.data_seed}"
        return TINY_ROOT / seeded if self.mini_size == "tiny" else Path("data") / seeded

    def corpus_notes(self) -> list[str]:
        return list(self._corpus.notes)

    def prepare(self) -> None:
        """Generate the mini corpus when `root` is unset and it is missing; validate the corpus."""
        self._corpus  # noqa: B018  (generates if needed, reads and validates protocols and files)

    @cached_property
    def _corpus(self) -> data.Corpus:
        if self.root is None:  # idempotent and locked: parallel workers generate it once
            mini.generate(self.corpus_root, self.data_seed, self.mini_size)
        return data.open_corpus(self.corpus_root, self.max_utterances, self.data_seed)

    @cached_property
    def front_end(self) -> FrontEnd:
        return FrontEnd(self.features, self.n_lfcc, self.n_fft, min(320, self.n_fft))

    def _split(self, split: str) -> data.Features:
        if split not in SPLITS:
            raise ValueError(f"Unknown split {split!r}; expected one of {tuple(SPLITS)}")
        return data.load_partition(self._corpus, SPLITS[split], self.front_end)

    def batches(self, split: str, batch_size: int, *, shuffle: bool = False, seed: int = 0) -> Iterator[Batch]:
        features = self._split(split)
        count = len(features.y)
        generator = torch.Generator().manual_seed(seed)
        order = torch.randperm(count, generator=generator) if shuffle else torch.arange(count)
        for start in range(0, count, batch_size):
            index = order[start : start + batch_size]
            yield features.x[index].float(), features.y[index]

    @property
    def recipe(self) -> TrainRecipe:
        return TrainRecipe(self.epochs, self.batch_size, self.lr, self.weight_decay)

    # --- model --------------------------------------------------------------------------------
    @property
    def knobs(self) -> dict[str, int]:
        if (user := self.user_knobs()) is not None:
            return user
        if self.model == "lcnn":
            return models.lcnn_knobs(self.width_multiplier)
        return models.resnet_knobs(self.blocks, self.width_multiplier)

    def _build(self, widths: dict[str, int], gate: GateFactory) -> nn.Module:
        if self.model == "lcnn":
            return models.LCNN(widths, gate)
        return models.resnet(widths, self.blocks, self.stem_stride, self.stem_pool, gate)

    def example_input(self) -> torch.Tensor:
        return self.front_end.example()

    def input_description(self) -> dict[str, str]:
        fe = self.front_end
        return {
            "sample_rate": "16000",
            "feature": f"{fe.kind} ({fe.n_features} features; tasks/asvspoof/features.py FrontEnd)",
            "window": f"hann, {fe.win_length} samples, FFT {fe.n_fft}",
            "hop": f"{fe.hop_length} samples (10 ms)",
            "input_shape": f"[batch, {fe.n_features}, {fe.n_frames}] (one 64,600-sample utterance)",
        }

    # --- objective and metrics ----------------------------------------------------------------
    @cached_property
    def _class_weights(self) -> torch.Tensor:
        """Cross-entropy weights (spoof, bona fide) inverse to the train class frequencies."""
        labels = self._split("train").y
        bona = float(labels.float().mean())
        return torch.tensor([bona, 1.0 - bona])

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(output, target, weight=self._class_weights.to(output.device))

    def scores(self, model: nn.Module, split: str = "test") -> np.ndarray:
        """CM scores (bona fide logit minus spoof logit, float32 values) of every trial of `split`,
        in protocol order; the last model's are reused (`LastOutputs`), so evaluating a model and
        writing its score files runs it over the split once."""
        model.eval()
        return self._outputs.get(model, split, lambda: self._forward(model, split))

    def dev_scores(self, model: nn.Module) -> tuple[float, float]:
        """One pass over the dev trials gives both keys (`Task.dev_scores`): the loss from the
        logits over the whole split, the EER from their CM scores (`evaluate` reuses them)."""
        logits = self._logits(model, "val")
        self._outputs.get(model, "val", lambda: _cm_scores(logits))
        return self.evaluate(model, "val")[self.primary_metric], self.loss(logits, self._split("val").y).item()

    def _forward(self, model: nn.Module, split: str) -> np.ndarray:
        return _cm_scores(self._logits(model, split))

    @torch.no_grad()
    def _logits(self, model: nn.Module, split: str) -> torch.Tensor:
        """(trials, 2) float32 logits of every trial of `split`, in protocol order, on the CPU."""
        device = model_device(model)
        return torch.cat([model(x.to(device)).float() for x, _ in self.batches(split, 128)]).cpu()

    def evaluate(self, model: nn.Module, split: str = "test") -> dict[str, float]:
        partition = SPLITS[split]
        trials = self._corpus.partitions[partition].trials
        rows = [ScoredTrial(t.utt, t.attack, t.key, float(s)) for t, s in zip(trials, self.scores(model, split))]
        return score_metrics(rows, self._corpus.asv[partition])

    def write_cm_scores(self, model: nn.Module, split: str, path: str | Path) -> Path:
        """Write `model`'s scores of `split` as an official CM score file (`UTT ATTACK KEY SCORE`)."""
        trials = self._corpus.partitions[SPLITS[split]].trials
        write_score_file(Path(path), trials, self.scores(model, split))
        return Path(path)

    def item_scores(self, model: nn.Module, split: str = "test") -> ItemScores:
        """One row per trial (the item is its index in protocol order): 1 = bona fide, its CM score."""
        scores = self.scores(model, split)
        return ItemScores(np.arange(scores.size), self._split(split).y.numpy(), scores)

    def outputs(self, model: nn.Module) -> dict[str, str | bytes]:
        """`scores.npz`, and the official CM score file of the eval partition for the organisers' scripts."""
        trials = self._corpus.partitions[SPLITS["test"]].trials
        return super().outputs(model) | {"cm_scores.eval.txt": format_score_file(trials, self.scores(model, "test"))}

    def predict(self, model: nn.Module, inputs: Sequence[Path], out_dir: Path) -> list[Path]:
        """One CM score per audio file (`cm_scores.txt`, `UTT SCORE`), features standardised as in training."""
        from tradeoff_bench.tasks.asvspoof.predict import write_scores

        return write_scores(
            model, self.front_end, lambda raw: data.normalise(self._corpus, self.front_end, raw), inputs, out_dir
        )

    @property
    def reference_metric(self) -> float:
        return 50.0

    def peers(self) -> list[Peer]:
        """Published anchors on the real corpus's full eval; none on a generated or subset corpus."""
        return published_peers() if self.corpus == "asvspoof2019-LA" else []


def _cm_scores(logits: torch.Tensor) -> np.ndarray:
    """Bona fide logit minus spoof logit, per trial."""
    return (logits[:, 1] - logits[:, 0]).double().numpy()
