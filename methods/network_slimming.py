"""`network-slimming` (Liu et al. 2017): L1 on per-channel scales, prune the smallest, fine-tune.

Liu et al. put the L1 penalty λ·Σ|γ| on BatchNorm's scales and note a plain scaling layer where
there is no BatchNorm. The suite's knob sites sit after the producers' activations, so every site
gets a learnable per-channel scale γ (init 1; the sites of one knob share it). After training, for
each MAC target: channels are ranked by |γ| normalised by its knob's largest |γ| (the knobs' scales
drift apart under L1 because a consumer can absorb any scale; normalising makes one global threshold
compare like with like), the threshold is lowered channel by channel while the complexity model's
MACs stay within the target, the kept channels are moved first, γ is folded into the consumers
(`methods.channels`), the narrow model is extracted and fine-tuned. Pre-training plus fine-tuning
equals the task recipe's epochs, as for every other method.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from methods.base import METHODS, Candidate, Method, RunContext
from methods.channels import KnobAxes, along, fold_gate, knob_axes, threshold_widths
from methods.dcl.complexity import fit_complexity
from methods.slicing import extract
from methods.training import fit, training_facts
from tasks.base import Task, model_device
from tasks.registry import Count, Epochs

DEFAULT_FINETUNE_SHARE = 0.25
"""Fine-tuning's share of the recipe's epochs when neither phase's epochs are set."""


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
        return sum(gamma.abs().sum() for gamma in self.gammas.values())

    def scores(self) -> dict[str, torch.Tensor]:
        """|γ| / max |γ| per knob: the importance the global threshold compares."""
        return {k: (g.detach().abs() / g.detach().abs().max().clamp_min(1e-12)).cpu() for k, g in self.gammas.items()}


@METHODS.register("network-slimming")
@dataclass
class NetworkSlimming(Method):
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
        self.phases(task)

    def phases(self, task: Task) -> tuple[int, int]:
        """(sparsity-training epochs, fine-tuning epochs), together the recipe's epochs unless both are set."""
        total = task.recipe.epochs
        train, tune = self.epochs, self.finetune_epochs
        if train is None and tune is None:
            tune = min(total - 1, round(DEFAULT_FINETUNE_SHARE * total))
        if train is None:
            train = total - tune
        elif tune is None:
            tune = max(0, total - train)
        if train < 1:
            raise ValueError(f"finetune_epochs={tune} leaves no sparsity training within the recipe's {total} epochs")
        return train, tune

    def run(self, task: Task, ctx: RunContext) -> list[Candidate]:
        self.check(task)
        train_epochs, tune_epochs = self.phases(task)
        complexity = fit_complexity(task, ctx.count_macs)
        axes = knob_axes(task)
        gates = ScaleGates()
        model = task.build_model(gate=gates)
        l1 = self.l1

        def step_loss(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return task.loss(m(x), y) + l1 * gates.l1()

        trained = fit(model, task, ctx, epochs=train_epochs, step_loss=step_loss)
        scores = gates.scores()
        candidates = []
        for index, target in enumerate(self.targets):
            widths = threshold_widths(scores, complexity, target)
            pruned = prune(task, model, axes, gates, widths)
            macs = int(ctx.count_macs(pruned, task.example_input().to(model_device(pruned))))
            if macs != complexity.exact(widths):
                raise RuntimeError(f"extracted model has {macs} MACs, the complexity model {complexity.exact(widths)}")
            tuned = fit(pruned, task, ctx, epochs=tune_epochs, seed_offset=index + 1) if tune_epochs else None
            pruned.eval()
            candidates.append(
                Candidate(
                    model=pruned,
                    label=f"slim-t{target:g}",
                    widths=widths,
                    facts={
                        "target_fraction": target,
                        "achieved_fraction": macs / complexity.full_macs,
                        "l1": self.l1,
                        "finetune_epochs": tune_epochs,
                        **training_facts(trained, *([tuned] if tuned else [])),
                    },
                    train_seconds=trained.seconds + (tuned.seconds if tuned else 0.0),
                    train_epochs=train_epochs + tune_epochs,
                )
            )
        return candidates


def prune(task: Task, model: nn.Module, axes: KnobAxes, gates: ScaleGates, widths: dict[str, int]) -> nn.Module:
    """A plain model at `widths` holding each knob's highest-|γ| channels, γ folded into the consumers."""
    work = copy.deepcopy(model)
    for knob, gamma in gates.gammas.items():
        fold_gate(work, axes, knob, gamma.detach().abs(), gamma.detach())
    return extract(task, work, widths)
