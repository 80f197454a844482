"""`network-slimming` (Liu et al. 2017): L1 on per-channel scales, prune the smallest, fine-tune.

Liu et al. put the L1 penalty λ·Σ|γ| on BatchNorm's scales and note a plain scaling layer where
there is no BatchNorm. The suite's knob sites sit after the producers' activations, so every site
gets a learnable per-channel scale γ (init 1; the sites of one knob share it). After training, for
each MAC target: channels are ranked by |γ| normalised by its knob's largest |γ| (the knobs' scales
drift apart under L1 because a consumer can absorb any scale; normalising makes one global threshold
compare like with like), the threshold is lowered channel by channel while the complexity model's
MACs stay within the target, the kept channels are moved first, γ is folded into the consumers
(`methods.channels`), the narrow model is extracted and fine-tuned. The loop and the epoch budget
are `methods.compress`'s (one stage; fine-tuning gets a quarter of the recipe's epochs by default).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from tradeoff_bench.core.registry import Count, Epochs
from tradeoff_bench.methods.base import METHODS, Candidate, RunContext
from tradeoff_bench.methods.channels import (
    KnobAxes,
    along,
    fold_gate,
    knob_axes,
    narrowest_fraction,
    threshold_widths,
)
from tradeoff_bench.methods.compress import CompressFinetune, Dense, Work
from tradeoff_bench.methods.dcl.complexity import ComplexityModel, fit_complexity
from tradeoff_bench.methods.slicing import extract
from tradeoff_bench.methods.training import StepLoss
from tradeoff_bench.tasks.base import Task, model_device


class ScaleGate(nn.Module):
    """x · γ along the channel axis; `gamma` is shared by the sites of one knob."""

    def __init__(self, gamma: nn.Parameter, dim: int) -> None:
        super().__init__()
        self.gamma, self.dim = gamma, dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * along(self.gamma, x, self.dim)

    def channel_scale(self) -> torch.Tensor:
        """γ, for `tasks.rnn.gated_rnn`."""
        return self.gamma


class ScaleGates:
    """Gate factory for `Task.build_model(gate=...)`: one γ per knob, shared by its sites."""

    def __init__(self) -> None:
        self.gammas: dict[str, nn.Parameter] = {}

    def __call__(self, knob: str, width: int, dim: int) -> ScaleGate:
        gamma = self.gammas.setdefault(knob, nn.Parameter(torch.ones(width)))
        if gamma.numel() != width:
            raise ValueError(f"knob {knob!r} is gated at widths {gamma.numel()} and {width}")
        return ScaleGate(gamma, dim)

    def l1(self) -> torch.Tensor:
        return torch.stack([gamma.abs().sum() for gamma in self.gammas.values()]).sum()

    def scores(self) -> dict[str, torch.Tensor]:
        """|γ| / max |γ| per knob: the importance the global threshold compares."""
        return {k: (g.detach().abs() / g.detach().abs().max().clamp_min(1e-12)).cpu() for k, g in self.gammas.items()}


@METHODS.register("network-slimming")
@dataclass
class NetworkSlimming(CompressFinetune):
    """Sparsify per-channel scales with L1, prune to each MAC target, fine-tune (Liu et al. 2017)."""

    l1: float = 1e-2
    """λ of the penalty λ·Σ|γ| over every knob's channels. Liu et al.'s 1e-4 (cross-entropy, with
    weight decay) leaves the scales dense here (synthetic: smallest normalised |γ| 0.64 of 1); 1e-2
    zeroes 41 of 64 and prunes to 12.5 % / 25 % MACs at a lower test MSE."""
    targets: tuple[float, ...] = (0.25, 0.5)
    """MAC targets as fractions of the full-width model's; one candidate each."""
    epochs: Epochs | None = None
    """Sparsity-training epochs; None: the recipe's epochs less the fine-tuning's."""
    finetune_epochs: Count | None = None
    """Fine-tuning epochs per candidate; None: the recipe's epochs less the training's (a quarter of
    the recipe when neither is set)."""

    finetune_share: ClassVar[float] = 0.25
    description = "L1 on per-channel scales, prune to MAC targets, fine-tune (Liu et al. 2017)"
    tiny_settings = {"targets": (0.5,), "epochs": 1, "finetune_epochs": 1}

    def __post_init__(self) -> None:
        if not self.targets or not all(0 < t <= 1 for t in self.targets):
            raise ValueError(f"targets must be a non-empty list of MAC fractions in (0, 1], got {self.targets}")
        if self.l1 < 0:
            raise ValueError(f"l1 must be >= 0, got {self.l1}")
        for name in ("epochs", "finetune_epochs"):
            value = getattr(self, name)
            if value is not None and value < (1 if name == "epochs" else 0):
                raise ValueError(f"{name} must be at least {1 if name == 'epochs' else 0}, got {value}")

    def check(self, task: Task) -> None:
        if not task.knobs:
            raise ValueError(f"task {task.name!r} has no width knobs: network-slimming prunes a knob's channels")
        floor = narrowest_fraction(task)
        if min(self.targets) < floor:
            raise ValueError(
                f"MAC target {min(self.targets):g} is below {floor:.4g}, the fraction of the model with one "
                "channel per knob: its knobs cannot reach it"
            )
        super().check(task)

    def compress_targets(self) -> tuple[float, ...]:
        return self.targets

    def epoch_settings(self) -> tuple[int | None, int | None, int]:
        return self.epochs, self.finetune_epochs, 1

    def dense_model(self, task: Task, ctx: RunContext) -> tuple[nn.Module, StepLoss | None, Any]:
        """The model with a scale gate at every knob site, trained with the L1 penalty on the scales."""
        gates = ScaleGates()
        l1 = self.l1

        def step_loss(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return task.loss(m(x), y) + l1 * gates.l1()

        return (
            task.build_model(gate=gates),
            step_loss,
            _Slimming(gates, fit_complexity(task, ctx.count_macs), knob_axes(task)),
        )

    def compress(self, task: Task, ctx: RunContext, dense: Dense, work: Work, stage: int) -> None:
        slim: _Slimming = dense.state
        work.state = widths = threshold_widths(slim.gates.scores(), slim.complexity, work.target)
        work.model = prune(task, work.model, slim.axes, slim.gates, widths)
        macs = int(ctx.count_macs(work.model, dense.example.to(model_device(work.model))))
        if macs != slim.complexity.exact(widths):
            raise RuntimeError(f"extracted model has {macs} MACs, the complexity model {slim.complexity.exact(widths)}")

    def candidate(self, task: Task, ctx: RunContext, dense: Dense, work: Work) -> Candidate:
        slim: _Slimming = dense.state
        widths: dict[str, int] = work.state
        return Candidate(
            model=work.model,
            label=f"slim-t{work.target:g}",
            widths=widths,
            facts={
                "target_fraction": work.target,
                "achieved_fraction": slim.complexity.exact(widths) / slim.complexity.full_macs,
                "l1": self.l1,
            },
        )


@dataclass(frozen=True)
class _Slimming:
    """What the pruning stage needs of the sparsity training."""

    gates: ScaleGates
    complexity: ComplexityModel
    axes: KnobAxes


def prune(task: Task, model: nn.Module, axes: KnobAxes, gates: ScaleGates, widths: dict[str, int]) -> nn.Module:
    """A plain model at `widths` holding each knob's highest-|γ| channels, γ folded into the consumers."""
    work = copy.deepcopy(model)
    for knob, gamma in gates.gammas.items():
        fold_gate(work, axes, knob, gamma.detach().abs(), gamma.detach())
    return extract(task, work, widths)
