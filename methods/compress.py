"""The one compress-and-fine-tune driver: pre-train → per target (compress → fine-tune) × stages.

A compression strategy (magnitude, magnitude-unstructured, network-slimming) says only *what* to
keep, through hooks; the driver owns pre-training, the per-target copies, the shuffling seeds and
the epoch budget, so every such method spends its epochs by the same rule (`EpochBudget.split`).
"""

from __future__ import annotations

import copy
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from tradeoff_bench.methods.base import Candidate, Method, RunContext
from tradeoff_bench.methods.training import FitResult, StepLoss, fit, init_rng, shared_fit, training_facts
from tradeoff_bench.tasks.base import Task


@dataclass(frozen=True)
class EpochBudget:
    """Pre-training epochs, then fine-tuning epochs after each of `stages` compression stages."""

    pretrain: int
    finetune: int
    stages: int

    @property
    def total(self) -> int:
        return self.pretrain + self.stages * self.finetune

    @classmethod
    def split(
        cls, total: int, stages: int, pretrain: int | None, finetune: int | None, finetune_share: float
    ) -> EpochBudget:
        """The fairness rule: the phases add up to the recipe's `total` epochs. An unset phase gets
        what the set one leaves; with neither set, fine-tuning gets round(total·share) (at most total − 1)
        spread over the stages."""
        if finetune is None:
            spare = total - pretrain if pretrain is not None else min(total - 1, round(total * finetune_share))
            finetune = max(0, spare) // stages
        if pretrain is None:
            pretrain = total - stages * finetune
        if pretrain < 1:
            raise ValueError(
                f"{stages} stage(s) of {finetune} fine-tuning epochs leave no pre-training within the recipe's {total} epochs"
            )
        return cls(pretrain, finetune, stages)


@dataclass
class Dense:
    """The pre-trained model every target starts from, with what the strategy kept of its training."""

    model: nn.Module
    example: torch.Tensor
    macs: int
    """MACs of the trained dense model on `example` (the bench's counter)."""
    seconds: float
    fitted: FitResult
    """The pre-training fit (its history, selected epoch and convergence)."""
    state: Any = None
    """The strategy's own (e.g. the learned channel scales), from `dense_model`."""


@dataclass
class Work:
    """One target's model on its way to a candidate."""

    model: nn.Module
    target: float
    state: Any = None
    """The strategy's own (a pruner, the pruned parameters), set in `begin`."""
    seconds: float = 0.0
    fits: list[FitResult] = field(default_factory=list)
    """The fits behind the model so far: pre-training, then each fine-tuning."""


class CompressFinetune(Method):
    """Template of a compress-and-fine-tune method; subclasses (dataclasses) fill in the hooks."""

    finetune_share: ClassVar[float] = 0.5
    """Fine-tuning's share of the recipe's epochs when neither phase's epochs are set."""

    @abstractmethod
    def compress_targets(self) -> Sequence[float]:
        """The targets (MAC fractions, sparsities), one candidate each, in the order they are run."""

    @abstractmethod
    def epoch_settings(self) -> tuple[int | None, int | None, int]:
        """(pre-training epochs, fine-tuning epochs per stage, stages) as set; None: by the rule."""

    @abstractmethod
    def compress(self, task: Task, ctx: RunContext, dense: Dense, work: Work, stage: int) -> None:
        """Compression stage `stage` (1-based) of `work` towards `work.target`; may replace `work.model`."""

    @abstractmethod
    def candidate(self, task: Task, ctx: RunContext, dense: Dense, work: Work) -> Candidate:
        """The candidate of a finished `work` (label, widths, facts); the driver adds the training
        facts (`history`, `selected_epoch`, `converged`, `finetune_epochs`, `train_seconds`, `train_epochs`)."""

    def dense_model(self, task: Task, ctx: RunContext) -> tuple[nn.Module, StepLoss | None, Any]:
        """(model to pre-train, its step loss or None for the task's, state for the hooks).
        Default: the task's full-width model and loss."""
        return task.build_model(), None, None

    def begin(self, task: Task, ctx: RunContext, dense: Dense, work: Work) -> None:
        """Prepare a target's fresh copy of the dense model before its first stage. Default: nothing."""

    def budget(self, task: Task) -> EpochBudget:
        pretrain, finetune, stages = self.epoch_settings()
        return EpochBudget.split(task.recipe.epochs, stages, pretrain, finetune, self.finetune_share)

    def check(self, task: Task) -> None:
        self.budget(task)

    def run(self, task: Task, ctx: RunContext) -> list[Candidate]:
        self.check(task)
        budget = self.budget(task)
        with init_rng(ctx):  # initial weights from the seed alone, as dense's and quantization's
            model, step_loss, state = self.dense_model(task, ctx)
        if step_loss is None:  # the task's loss: any identical pre-training (another method's) is shared
            trained = shared_fit(model, task, ctx, phase="pretrain", epochs=budget.pretrain)
        else:
            trained = fit(model, task, ctx, epochs=budget.pretrain, step_loss=step_loss)
        example = task.example_input()
        dense = Dense(model, example, ctx.count_macs(model.eval(), example), trained.seconds, trained, state)
        candidates = []
        for index, target in enumerate(self.compress_targets()):
            work = Work(copy.deepcopy(dense.model).eval(), target, seconds=dense.seconds, fits=[dense.fitted])
            self.begin(task, ctx, dense, work)
            for stage in range(1, budget.stages + 1):
                self.compress(task, ctx, dense, work, stage)
                if budget.finetune:
                    offset = 1 + index * budget.stages + stage  # each fine-tuning its own shuffling order
                    tuned = fit(work.model, task, ctx, epochs=budget.finetune, seed_offset=offset)
                    work.seconds += tuned.seconds
                    work.fits.append(tuned)
                work.model.eval()
            candidate = self.candidate(task, ctx, dense, work)
            facts = {"finetune_epochs": budget.stages * budget.finetune, **training_facts(*work.fits)}
            candidate.facts = {**candidate.facts, **facts}
            candidate.train_seconds, candidate.train_epochs = work.seconds, budget.total
            candidates.append(candidate)
        return candidates
