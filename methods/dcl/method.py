"""`dcl`: learn each knob's width during training with Dynamic Complexity Layers, then extract.

"penalty" mode: task loss + α·MACs(K)/MACs(K_max), the paper's trade-off knob.

"budget" mode: reach a target fraction b of the dense MACs, as the equality MACs(K + ½)/MACs_max
= b held by a stiff two-sided quadratic penalty (ρ/2)·(MACs(K + ½)/MACs_max − b)², i.e. the
augmented-Lagrangian term without its multiplier. Why not the two options PAPER.md names:
- a Lagrange multiplier by dual ascent oscillated (±20 channels of 64, final MACs off by −34 % to
  +8 % on the synthetic task): Adam divides κ's gradient by its running RMS, so whatever the
  multiplier's size κ moves at its full learning rate in the multiplier's direction, and the
  integral action plus Adam's momentum lag make a limit cycle; the quadratic term is proportional
  instead, its offset from the target is ḡ/ρ for a task gradient ḡ, and the penalty's long-memory
  RMS makes Adam's steps shrink with the excess (measured: 0.0 % off at 0.25, 0.5 and 0.75);
- a hinge only pushes down: an undershoot left by momentum, or a target above what the task
  needs, is never pulled back, whereas a user who asks for a cost should get that cost.
The target is on MACs(K + ½) because extraction keeps ⌈K⌉ channels, on average K + ½, so the
extracted model, not the continuous one, lands on the target.

Penalty-mode defaults (α = 1, κ learning rate 30× the weights', α warm-up over the first 20 % of
steps) were measured on the synthetic task (teacher width r = 16 of 64, 100 epochs). Width tracks
the penalty rather than locking onto r: K descends until the last fully passed channel is worth
less than the penalty, and a channel is only reorganised away while it is blended, so K stalls
at integers and lands near r only for α near 1 (16, 18, 17 over seeds 0–2); α = 0.3 stops at
26–30 and α = 0.1 at 47–58 after 200 epochs. Without the warm-up K collapses to κ_min before
the network has learned anything; a κ learning rate of 10× leaves K 3–10 channels higher.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from methods.base import METHODS, Candidate, MacCounter, Method, RunContext
from methods.dcl.complexity import ComplexityModel, fit_complexity
from methods.dcl.layer import DCLGates, check_kappa_min, kept_width
from methods.slicing import extract
from methods.training import fit
from tasks.base import Task
from tasks.registry import Epochs


@METHODS.register("dcl")
@dataclass
class DCL(Method):
    """Dynamic Complexity Layers at every width knob (Gómez & Bäckström 2026)."""

    mode: Literal["penalty", "budget"] = "penalty"
    alpha: float = 1.0
    """Penalty mode: weight of the normalised MACs in the loss."""
    budget: float = 0.5
    """Budget mode: target MACs as a fraction of the full-width model's."""
    kappa_min: float = 0.125
    """Lower bound of every κ = K / full width."""
    epochs: Epochs | None = None
    """None: the task recipe's epochs."""
    kappa_lr_scale: float = 30.0
    """κ's learning rate as a multiple of the weights'."""
    warmup: float = 0.2
    """Penalty mode: fraction of the training steps over which α ramps up linearly from 0, so the
    widths are cut by what the trained network needs rather than collapsing while it is untrained."""
    budget_rho: float = 1e4
    """Budget mode: stiffness ρ of the quadratic penalty on the MACs fraction's distance to the target."""
    knobs: tuple[str, ...] | None = None
    """The knobs that get a DCL (e.g. one residual stage, as in the paper's per-stage runs); the
    others keep their full width. None: every knob."""

    description = "learn widths during training with Dynamic Complexity Layers (penalty or MAC budget)"

    def __post_init__(self) -> None:
        self._check_settings()

    def _check_settings(self) -> None:
        check_kappa_min(self.kappa_min)
        if self.mode not in ("penalty", "budget"):
            raise ValueError(f"mode must be 'penalty' or 'budget', got {self.mode!r}")
        if not 0 < self.budget <= 1:
            raise ValueError(f"budget must be a fraction of the dense MACs in (0, 1], got {self.budget}")
        if self.alpha < 0 or self.kappa_lr_scale <= 0 or self.budget_rho <= 0 or not 0 <= self.warmup <= 1:
            raise ValueError("alpha must be >= 0, kappa_lr_scale and budget_rho > 0, warmup in [0, 1]")
        if self.epochs is not None and self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        if self.knobs is not None and not self.knobs:
            raise ValueError("knobs must name at least one knob (or be unset: every knob)")

    def check(self, task: Task, count_macs: MacCounter | None = None) -> None:
        """Reject unusable settings before training; with a MAC counter, also an unreachable budget."""
        self._check_settings()
        if not task.knobs:
            raise ValueError(f"task {task.name!r} has no width knobs: dcl learns the widths of knobs")
        task.check_knobs(self.knobs or ())
        if count_macs is not None:
            self._check_reachable(task, fit_complexity(task, count_macs))

    def run(self, task: Task, ctx: RunContext) -> list[Candidate]:
        self.check(task)
        complexity = fit_complexity(task, ctx.count_macs)
        self._check_reachable(task, complexity)
        gates = DCLGates(self.kappa_min, self.knobs)
        model = task.build_model(gate=gates)
        objective = DCLObjective(self, task, gates, complexity, warmup_steps=self._warmup_steps(task))
        kappas = list(gates.kappas().values())
        weights = [p for p in model.parameters() if all(p is not k for k in kappas)]
        lr = task.recipe.lr
        groups = [
            {"params": weights, "lr": lr},
            {"params": kappas, "lr": lr * self.kappa_lr_scale, "weight_decay": 0.0},
        ]
        result = fit(
            model, task, ctx, epochs=self.epochs, step_loss=objective.loss, param_groups=groups,
            after_step=objective.after_step,
        )  # fmt: skip
        widths = task.resolve_widths(gates.kept_widths())
        facts: dict[str, object] = {
            "learned_K": {k: v.item() for k, v in gates.effective_widths().items()},
            "kappa": {k: v.item() for k, v in gates.kappas().items()},
            "mode": self.mode,
            "predicted_macs": complexity.exact(widths),
        }
        if self.mode == "budget":
            facts["target_fraction"] = self.budget
        label = f"dcl-penalty-a{self.alpha:g}" if self.mode == "penalty" else f"dcl-budget-b{self.budget:g}"
        if self.knobs is not None:
            label += "-" + "+".join(self.knobs)
        return [
            Candidate(
                model=extract(task, model, widths),
                label=label,
                widths=widths,
                facts=facts,
                train_seconds=result.seconds,
                train_epochs=result.epochs,
            )
        ]

    def _warmup_steps(self, task: Task) -> int:
        """Steps of the penalty's warm-up; counting the batches costs one pass over the data."""
        if self.mode != "penalty" or self.warmup == 0:
            return 0
        per_epoch = sum(1 for _ in task.batches("train", task.recipe.batch_size))
        return round(self.warmup * per_epoch * (self.epochs or task.recipe.epochs))

    def _learns(self, knob: str) -> bool:
        return self.knobs is None or knob in self.knobs

    def _check_reachable(self, task: Task, complexity: ComplexityModel) -> None:
        if self.mode != "budget":
            return
        narrowest = {k: kept_width(self.kappa_min, n) if self._learns(k) else n for k, n in task.knobs.items()}
        lowest = complexity.exact(narrowest) / complexity.full_macs
        if self.budget < lowest:
            raise ValueError(
                f"budget {self.budget:g} is below {lowest:.4g}, the MACs fraction of the narrowest model "
                f"kappa_min={self.kappa_min:g} allows (widths {narrowest}); lower kappa_min or raise the budget"
            )


class DCLObjective:
    """The step loss of one run (penalty or budget) and its after-step hook (κ projection)."""

    def __init__(
        self, method: DCL, task: Task, gates: DCLGates, complexity: ComplexityModel, warmup_steps: int = 0
    ) -> None:
        self.method, self.task, self.gates, self.complexity = method, task, gates, complexity
        self.warmup_steps, self.steps = warmup_steps, 0

    def cost(self, offset: float = 0.0) -> torch.Tensor:
        """MACs(K + offset) / MACs(full width), differentiable in every κ; knobs without a DCL at full width."""
        learned = {k: w + offset for k, w in self.gates.effective_widths().items()}
        like = next(iter(learned.values()))
        widths = {k: learned[k] if k in learned else like.new_tensor(float(n)) for k, n in self.task.knobs.items()}
        return self.complexity(widths) / self.complexity.full_macs

    def penalty_weight(self) -> float:
        """α of the current step, ramped up from 0 over the warm-up."""
        return self.method.alpha * min(1.0, (self.steps + 1) / (self.warmup_steps + 1))

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        task_loss = self.task.loss(model(x), y)
        if self.method.mode == "penalty":
            return task_loss + self.penalty_weight() * self.cost()
        return task_loss + 0.5 * self.method.budget_rho * (self.cost(0.5) - self.method.budget) ** 2

    def after_step(self) -> None:
        self.gates.project_()
        self.steps += 1
