"""`slimmable`: one universally slimmable network trained once, exported at several widths.

Training follows the sandwich rule with in-place distillation (Yu & Huang, "Universally Slimmable
Networks", 2019): every step trains the widest width on the task loss, and the narrowest plus
`sandwich` randomly drawn widths on the widest width's detached output. Written from the paper.

How a width runs: the model at width `w` is the full model with every tensor sliced to its leading
channels (tasks/base.py). For each width the narrow structure `task.build_model(widths)` is built
once and run with `torch.func.functional_call` on differentiable leading slices of the full model's
parameters (per gate block for RNN and packed attention tensors, methods.slicing.leading_slices),
so gradients of every width flow into the one set of shared parameters. This narrows any layer,
including a GRU whose recurrence a channel mask cannot narrow. Each structure keeps its own buffers,
so BatchNorm statistics are per width (switchable BN) during training.

Distillation target (`distill`): "mse" (default) is the mean squared error between the student's
and the teacher's outputs — plain output matching for regression, logit matching for classifiers,
and valid for any task; "task" uses `task.loss(student, teacher)`, which is only meaningful where
the task's loss accepts an output as its target (a regression loss, not a BCE on logits); "none"
trains every width on the task loss alone.

Export: each width of `widths` becomes a physically smaller model (methods.slicing.extract) whose
BatchNorm statistics are recalibrated: reset, then averaged exactly (momentum=None) over forward
passes in train mode, without gradients, on `calibration_batches` training batches.

Fairness: the run takes the task recipe's epochs (`train_epochs`), but a step runs `2 + sandwich`
forward/backward passes, so its compute is that many times a dense run's; `train_seconds` shows it.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from tradeoff_bench.core.registry import Epochs
from tradeoff_bench.methods.base import METHODS, Candidate, Method, RunContext
from tradeoff_bench.methods.slicing import extract, leading_slices
from tradeoff_bench.methods.training import fit, training_facts
from tradeoff_bench.tasks.base import Task, model_device


def uniform_widths(task: Task, multiplier: float) -> dict[str, int]:
    """Every knob at `multiplier` of its full width (at least one channel), as `dense` scales them."""
    return {knob: max(1, round(multiplier * full)) for knob, full in task.knobs.items()}


class SlimmableNet:
    """A full model plus narrow structures that run on leading slices of its parameters."""

    def __init__(self, task: Task, model: nn.Module) -> None:
        self.task, self.model = task, model
        self._structures: dict[tuple[tuple[str, int], ...], nn.Module] = {}

    def structure(self, widths: dict[str, int]) -> nn.Module:
        """The module that runs at `widths`: the full model itself, or a cached narrow structure."""
        if widths == self.task.knobs:
            return self.model
        key = tuple(sorted(widths.items()))
        if key not in self._structures:
            with torch.random.fork_rng(devices=[]):  # its parameters are never used: leave the RNG alone
                narrow = self.task.build_model(widths)
            for parameter in narrow.parameters():
                parameter.requires_grad_(False)
            self._structures[key] = narrow.to(model_device(self.model))
        return self._structures[key]

    def forward(self, widths: dict[str, int], x: torch.Tensor) -> torch.Tensor:
        """The output at `widths`, differentiable with respect to the full model's parameters."""
        structure = self.structure(widths)
        if structure is self.model:
            return self.model(x)
        structure.train(self.model.training)
        sliced = leading_slices(dict(self.model.named_parameters()), structure, buffers=False)
        return torch.func.functional_call(structure, sliced, (x,), strict=False)


@METHODS.register("slimmable")
@dataclass
class Slimmable(Method):
    """Sandwich-rule slimmable training; one candidate per width multiplier."""

    widths: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)
    sandwich: int = 2
    distill: Literal["mse", "task", "none"] = "mse"
    epochs: Epochs | None = None
    calibration_batches: int = 20

    description = "universally slimmable training (sandwich rule, in-place distillation), one run -> all widths"
    tiny_settings = {"widths": (0.5, 1.0), "sandwich": 1, "epochs": 1, "calibration_batches": 2}

    def __post_init__(self) -> None:
        if not self.widths or not all(0 < w <= 1 for w in self.widths):
            raise ValueError(f"widths must be a non-empty list in (0, 1], got {self.widths}")
        if self.sandwich < 0 or self.calibration_batches < 1:
            raise ValueError("sandwich must be >= 0 and calibration_batches >= 1")
        if self.distill not in ("mse", "task", "none"):
            raise ValueError(f"distill must be 'mse', 'task' or 'none', got {self.distill!r}")

    def run(self, task: Task, ctx: RunContext) -> list[Candidate]:
        lo, hi = min(self.widths), max(self.widths)
        net = SlimmableNet(task, task.build_model())
        draw = random.Random(ctx.seed)

        def step_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            teacher = net.forward(uniform_widths(task, hi), x)
            loss = task.loss(teacher, y)
            students = [lo] + [draw.uniform(lo, hi) for _ in range(self.sandwich)]
            for multiplier in students:
                output = net.forward(uniform_widths(task, multiplier), x)
                loss = loss + self._student_loss(task, output, teacher.detach(), y)
            return loss

        result = fit(net.model, task, ctx, epochs=self.epochs, step_loss=step_loss)
        candidates = []
        for multiplier in sorted(set(self.widths)):
            start = time.perf_counter()
            widths = uniform_widths(task, multiplier)
            model = extract(task, net.model, widths)
            recalibrate_batchnorm(model, task, self.calibration_batches, seed=ctx.seed)
            candidates.append(
                Candidate(
                    model=model,
                    label=f"slim-x{multiplier:g}",
                    widths=widths,
                    facts={
                        "multiplier": multiplier,
                        "sandwich": self.sandwich,
                        "distill": self.distill,
                        **training_facts(result),
                    },
                    train_seconds=result.seconds + time.perf_counter() - start,
                    train_epochs=result.epochs,
                )
            )
        return candidates

    def _student_loss(self, task: Task, output: torch.Tensor, teacher: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.distill == "mse":
            return nn.functional.mse_loss(output, teacher)
        if self.distill == "task":
            return task.loss(output, teacher)
        return task.loss(output, y)


def recalibrate_batchnorm(
    model: nn.Module, task: Task, batches: int, *, seed: int = 0, batch_size: int | None = None
) -> None:
    """Recompute every BatchNorm's running statistics exactly over `batches` training batches.

    Statistics are reset and averaged with momentum=None (a cumulative mean) in train mode under
    no_grad; the model is left in eval mode. A model without BatchNorm is left as it is.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if norms:
        device = model_device(model)
        momenta = [norm.momentum for norm in norms]
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None
        model.train()
        size = batch_size or task.recipe.batch_size
        with torch.no_grad():
            for index, (x, _) in enumerate(task.batches("train", size, shuffle=True, seed=seed)):
                if index >= batches:
                    break
                model(x.to(device))
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum
    model.eval()
