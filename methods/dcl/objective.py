"""The cost objective that `dcl` and `noisy-gates` share: settings, expected MACs, penalty and warm-up.

Both methods learn a continuous width per knob (DCL's K = κ·N, the gates' E[K] = Σ Φ(μ/σ)). The
cost is the DCL complexity model's MAC polynomial at those widths (knobs without a learned width
at full width) over the full model's MACs: differentiable in the widths, and equal to fvcore's
count at integer widths. "penalty" mode adds α·cost, α ramped up linearly from 0 over the first
`warmup` fraction of the steps, so the widths are cut by what the trained network needs rather
than while it is untrained. "budget" mode adds λ·cost + ½ρ·(cost − b)², with a multiplier λ that
a method may steer (noisy-gates; dcl keeps λ = 0 and a stiff ρ) and ρ its own setting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from tradeoff_bench.core.registry import Epochs
from tradeoff_bench.methods.base import MacCounter, Method
from tradeoff_bench.methods.dcl.budget import check_budget
from tradeoff_bench.methods.dcl.complexity import ComplexityModel, fit_complexity
from tradeoff_bench.tasks.base import Task


@dataclass
class CostSettings(Method):
    """The settings every method that learns widths against the MAC cost has (a base, not registered)."""

    mode: Literal["penalty", "budget"] = "penalty"
    alpha: float = 1.0
    """Penalty mode: weight of the normalised MACs in the loss."""
    budget: float = 0.5
    """Budget mode: target MACs as a fraction of the full-width model's, a ceiling: the realised
    model lies in [b − 5 %, b] of the full MACs, or the budget is refused before training."""
    epochs: Epochs | None = None
    """None: the task recipe's epochs."""
    warmup: float = 0.2
    """Penalty mode: fraction of the training steps over which α ramps up linearly from 0."""

    def __post_init__(self) -> None:
        self._check_settings()

    def _check_settings(self) -> None:
        if self.mode not in ("penalty", "budget"):
            raise ValueError(f"mode must be 'penalty' or 'budget', got {self.mode!r}")
        if not 0 < self.budget <= 1:
            raise ValueError(f"budget must be a fraction of the dense MACs in (0, 1], got {self.budget}")
        if self.alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha}")
        if not 0 <= self.warmup <= 1:
            raise ValueError(f"warmup must be in [0, 1], got {self.warmup}")
        if self.epochs is not None and self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")

    def check(self, task: Task, count_macs: MacCounter | None = None) -> None:
        """Reject unusable settings before training; with a MAC counter, also an unreachable budget."""
        self._check_settings()
        if not task.knobs:
            raise ValueError(f"task {task.name!r} has no width knobs, whose widths this method learns")
        if count_macs is not None:
            self.check_budget(task, fit_complexity(task, count_macs))

    def check_budget(self, task: Task, complexity: ComplexityModel) -> None:
        """Budget mode: refuse a budget below the narrowest allowed model's MACs or one no model meets closely."""
        if self.mode == "budget":
            check_budget(complexity, self.narrowest(task), self.budget, self.narrowest_rule())

    def narrowest(self, task: Task) -> dict[str, int]:
        """The narrowest widths the settings allow: one channel per knob unless a method says more."""
        return {k: 1 for k in task.knobs}

    def narrowest_rule(self) -> str:
        """What sets `narrowest`, for a refusal."""
        return "one open channel per knob"

    def cost_label(self, prefix: str) -> str:
        """`prefix`-penalty-a`α` or `prefix`-budget-b`b`: the candidate's label."""
        return f"{prefix}-penalty-a{self.alpha:g}" if self.mode == "penalty" else f"{prefix}-budget-b{self.budget:g}"


class CostObjective:
    """The step loss of one run: task loss plus the penalty (penalty mode) or the budget terms."""

    def __init__(
        self,
        method: CostSettings,
        task: Task,
        complexity: ComplexityModel,
        widths: Callable[[], dict[str, torch.Tensor]],
        steps: int = 0,
        rho: float = 0.0,
    ) -> None:
        """`widths` returns the learned continuous widths; `steps` is the run's length (for the warm-up);
        `rho` the budget mode's quadratic stiffness."""
        self.method, self.task, self.complexity, self.widths = method, task, complexity, widths
        self.warmup_steps = round(method.warmup * steps)
        self.rho, self.multiplier = rho, 0.0
        self.steps = 0
        self.last_cost = torch.zeros(())
        """The cost of the latest step (detached), for a controller of the multiplier."""

    def cost(self) -> torch.Tensor:
        """MACs(learned widths) / MACs(full width), differentiable in the widths."""
        learned = self.widths()
        like = next(iter(learned.values()))
        widths = {k: learned[k] if k in learned else like.new_tensor(float(n)) for k, n in self.task.knobs.items()}
        return self.complexity(widths) / self.complexity.full_macs

    def penalty_weight(self) -> float:
        """α of the current step, ramped up from 0 over the warm-up."""
        return self.method.alpha * min(1.0, (self.steps + 1) / (self.warmup_steps + 1))

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        task_loss = self.task.loss(model(x), y)
        cost = self.cost()
        self.last_cost = cost.detach()
        if self.method.mode == "penalty":
            return task_loss + self.penalty_weight() * cost
        return task_loss + self.multiplier * cost + 0.5 * self.rho * (cost - self.method.budget) ** 2

    def after_step(self) -> None:
        self.steps += 1
