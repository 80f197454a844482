"""`noisy-gates`: stochastic gates with a Gaussian relaxation (Yamada et al. 2020) on every knob's channels.

Each channel c of a knob has a gate z_c = clamp(μ_c + σ·ε_c, 0, 1), ε ~ N(0, 1) drawn once per
training step and knob (the sites of a knob share μ and ε), and z_c = clamp(μ_c, 0, 1) at evaluation.
A channel is open with probability Φ(μ_c/σ), so a knob's expected width is E[K] = Σ_c Φ(μ_c/σ), and
the cost is the DCL complexity model at the expected widths: the same differentiable MACs and the
same penalty objective (α·MACs/MACs_full) as `dcl`, and a budget mode that aims at a MAC fraction b
(by dual ascent on α, see `NoisyGatesObjective`), which makes the two noise-injection methods
comparable at matched cost. The difference is what the noise does: DCL
blends one channel at the edge of an ordered width; here every channel has its own gate and the
noise decides which survive.

Extraction keeps the channels with μ > 0 (those whose evaluation gate is open; at least one per
knob), moves them first in descending μ, slices, and keeps z = clamp(μ, 0, 1) of the kept channels
as a fixed per-channel scale at every site (0 MACs): the candidate computes exactly what the gated
model computes at evaluation, also where z feeds a residual sum, a norm or attention, which a fold
into the consumers would only approximate.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from methods.base import METHODS, Candidate, Method, RunContext
from methods.channels import ChannelScale, KnobAxes, along, knob_axes, permute_knob, threshold_widths
from methods.dcl.complexity import ComplexityModel, fit_complexity
from methods.dcl.method import DCLObjective
from methods.slicing import extract
from methods.training import count_steps, fit, rounded_widths
from tasks.base import Task
from tasks.registry import Epochs

MU_INIT = 0.5
"""Yamada et al.'s initial μ: every gate half open, P(open) = Φ(0.5/σ)."""
MU_RANGE = (-2.0, 3.0)
"""μ is clamped here after each step: beyond it a gate is settled and its gradient is negligible."""


class StochasticGate(nn.Module):
    """x · z along the channel axis, z from the knob's shared μ (and, in training, its current noise)."""

    def __init__(self, owner: NoisyGates, knob: str, dim: int) -> None:
        super().__init__()
        self.mu = owner.mus[knob]
        self._owner, self.knob, self.dim = [owner], knob, dim  # a list: not a submodule

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * along(self.channel_scale(), x, self.dim)

    def channel_scale(self) -> torch.Tensor:
        """z: one factor per channel (one noise draw per training step), for `tasks.rnn.gated_rnn`."""
        return self._owner[0].gate(self.knob, self.training)


class NoisyGates:
    """Gate factory for `Task.build_model(gate=...)`: μ per knob and its noise, shared by the knob's sites."""

    def __init__(self, sigma: float) -> None:
        self.sigma = sigma
        self.mus: dict[str, nn.Parameter] = {}
        self.noise: dict[str, torch.Tensor] = {}

    def __call__(self, knob: str, width: int, dim: int) -> StochasticGate:
        mu = self.mus.setdefault(knob, nn.Parameter(torch.full((width,), MU_INIT)))
        if mu.numel() != width:
            raise ValueError(f"knob {knob!r} is gated at widths {mu.numel()} and {width}")
        return StochasticGate(self, knob, dim)

    def resample_(self) -> None:
        """Draw a new ε for every knob; run once per training step, before the forward pass."""
        self.noise = {knob: torch.randn_like(mu) for knob, mu in self.mus.items()}

    def gate(self, knob: str, training: bool) -> torch.Tensor:
        mu: torch.Tensor = self.mus[knob]
        if training:
            if knob not in self.noise:
                self.resample_()
            mu = mu + self.sigma * self.noise[knob]
        return mu.clamp(0.0, 1.0)

    def effective_widths(self) -> dict[str, torch.Tensor]:
        """E[K] = Σ Φ(μ/σ) per knob, differentiable in μ."""
        return {k: _normal_cdf(mu / self.sigma).sum() for k, mu in self.mus.items()}

    def kept_widths(self) -> dict[str, int]:
        """Channels whose evaluation gate is open (μ > 0), at least one per knob."""
        return {k: max(1, int((mu.detach() > 0).sum())) for k, mu in self.mus.items()}

    @torch.no_grad()
    def close_to_budget_(self, complexity: ComplexityModel, budget: float) -> int:
        """Close the lowest-μ open gates (μ := 0) until the kept widths' MACs fit `budget` · full;
        returns how many were closed."""
        cap = threshold_widths({k: mu.detach().cpu() for k, mu in self.mus.items()}, complexity, budget)
        closed = 0
        for knob, mu in self.mus.items():
            open_ = int((mu > 0).sum())
            if open_ > cap[knob]:
                order = mu.argsort(descending=True, stable=True)
                mu[order[cap[knob] :]] = mu[order[cap[knob] :]].clamp_max(0.0)
                closed += open_ - cap[knob]
        return closed

    @torch.no_grad()
    def project_(self) -> None:
        for mu in self.mus.values():
            mu.clamp_(*MU_RANGE)


class NoisyGatesObjective(DCLObjective):
    """`dcl`'s penalty/budget objective on the expected widths, with fresh gate noise every step.

    The penalty mode is `dcl`'s (α·MACs(E[K])/MACs_full, α ramped up over the warm-up). The budget
    mode is the same penalty with α set by a dual (PI) controller on the relative excess
    e = (cost − b)/b: α = I + gain·e with I += dual_lr·e, of either sign, so α also reopens gates
    when the cost falls below b (an equality, as `dcl`'s budget). It replaces `dcl`'s quadratic
    ½ρ·(cost(K + ½) − b)² (the ½ is DCL's ⌈K⌉; E[K] needs none; an optional ½ρ·(cost − b)² remains,
    ρ = 0 by default): under Adam the stiff quadratic's gradient has the same sign for every μ and
    dominates the task's, so every μ sinks in lockstep to where Φ(μ/σ) = b (below 0 for b < ½) and
    evaluation keeps almost nothing (measured: 1 of 64 channels kept at b = 0.25 with E[K] = 16
    exactly); a moderate multiplier leaves the task loss room to hold the useful gates open and
    close the rest. Training ends near the budget, not on it (synthetic defaults, seeds 0–2:
    0.22–0.23 for b = 0.25, 0.47–0.48 for b = 0.5); if the kept widths exceed it, extraction closes
    the lowest-μ open gates (μ := 0) until they fit (a hard cap, as network-slimming's threshold),
    and the candidate records how many it closed."""

    # this objective is built with noisy gates and a NoisyGatesMethod (DCL's duck type), never DCL's
    gates: NoisyGates  # type: ignore[assignment]
    method: NoisyGatesMethod  # type: ignore[assignment]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.integral = 0.0
        self.multiplier = 0.0
        self._last_cost = 0.0

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.gates.resample_()
        if self.method.mode == "penalty":
            return super().loss(model, x, y)
        cost = self.cost()
        self._last_cost = cost.item()
        quadratic = 0.5 * self.method.budget_rho * (cost - self.method.budget) ** 2
        return self.task.loss(model(x), y) + self.multiplier * cost + quadratic

    def after_step(self) -> None:
        super().after_step()
        if self.method.mode == "budget":  # PI control of α on the relative excess over the budget
            excess = (self._last_cost - self.method.budget) / self.method.budget
            self.integral += self.method.dual_lr * excess
            self.multiplier = self.integral + self.method.dual_gain * excess


@METHODS.register("noisy-gates")
@dataclass
class NoisyGatesMethod(Method):
    """Stochastic gates with a Gaussian relaxation on every knob's channels, cost from the DCL model."""

    mode: Literal["penalty", "budget"] = "penalty"
    alpha: float = 1.0
    """Penalty mode: weight of the expected normalised MACs in the loss."""
    budget: float = 0.5
    """Budget mode: target MACs as a fraction of the full-width model's."""
    sigma: float = 0.5
    """Standard deviation of the gates' noise (Yamada et al. use 0.5)."""
    mu_lr_scale: float = 10.0
    """μ's learning rate as a multiple of the weights'."""
    epochs: Epochs | None = None
    """None: the task recipe's epochs."""
    warmup: float = 0.2
    """Penalty mode: fraction of the steps over which α ramps up from 0 (as `dcl`)."""
    dual_lr: float = 0.02
    """Budget mode: step of the multiplier's dual ascent per unit of relative excess MACs."""
    dual_gain: float = 0.5
    """Budget mode: proportional term of the multiplier (α = integral + gain · relative excess)."""
    budget_rho: float = 0.0
    """Budget mode: stiffness ρ of an added quadratic ½ρ·(cost − b)² (an augmented Lagrangian)."""

    description = "stochastic gates with Gaussian noise (Yamada et al. 2020), MAC cost from the DCL model"
    tiny_settings = {"epochs": 1}

    def __post_init__(self) -> None:
        if self.mode not in ("penalty", "budget"):
            raise ValueError(f"mode must be 'penalty' or 'budget', got {self.mode!r}")
        if not 0 < self.budget <= 1:
            raise ValueError(f"budget must be a fraction of the dense MACs in (0, 1], got {self.budget}")
        if self.alpha < 0 or self.sigma <= 0 or self.mu_lr_scale <= 0 or self.dual_lr <= 0 or self.budget_rho < 0:
            raise ValueError("alpha and budget_rho must be >= 0; sigma, mu_lr_scale and dual_lr > 0")
        if not 0 <= self.warmup <= 1 or (self.epochs is not None and self.epochs < 1):
            raise ValueError("warmup must be in [0, 1] and epochs at least 1")

    def check(self, task: Task) -> None:
        if not task.knobs:
            raise ValueError(f"task {task.name!r} has no width knobs: noisy-gates gates a knob's channels")

    def run(self, task: Task, ctx: RunContext) -> list[Candidate]:
        self.check(task)
        complexity = fit_complexity(task, ctx.count_macs)
        axes = knob_axes(task)
        gates = NoisyGates(self.sigma)
        model = task.build_model(gate=gates)
        objective = NoisyGatesObjective(self, task, gates, complexity, warmup_steps=self._warmup_steps(task))
        mus = list(gates.mus.values())
        weights = [p for p in model.parameters() if all(p is not mu for mu in mus)]
        lr = task.recipe.lr
        groups = [{"params": weights, "lr": lr}, {"params": mus, "lr": lr * self.mu_lr_scale, "weight_decay": 0.0}]
        result = fit(
            model, task, ctx, epochs=self.epochs, step_loss=objective.loss, param_groups=groups,
            after_step=objective.after_step, epoch_facts=lambda: {"E[K]": rounded_widths(gates.effective_widths())},
        )  # fmt: skip
        widths = gates.kept_widths()
        closed = 0
        if self.mode == "budget":
            closed = gates.close_to_budget_(complexity, self.budget)
            widths = gates.kept_widths()
        realised = realise(task, model, axes, gates, widths)
        macs = int(ctx.count_macs(realised, task.example_input()))
        facts: dict[str, object] = {
            "mode": self.mode,
            "expected_K": {k: v.item() for k, v in gates.effective_widths().items()},
            "predicted_macs": complexity.exact(widths),
            "achieved_fraction": macs / complexity.full_macs,
            "history": result.history,
        }
        if self.mode == "budget":
            facts["closed_at_extraction"] = closed
        if self.mode == "budget":
            facts["target_fraction"] = self.budget
        label = f"stg-penalty-a{self.alpha:g}" if self.mode == "penalty" else f"stg-budget-b{self.budget:g}"
        return [
            Candidate(
                model=realised, label=label, widths=widths, facts=facts,
                train_seconds=result.seconds, train_epochs=result.epochs, trained=model.eval(),
            )
        ]  # fmt: skip

    def build_candidate(self, task: Task, widths: Mapping[str, int], facts: Mapping[str, Any]) -> nn.Module:
        """The model at `widths` with a fixed `ChannelScale` at every gate site, as `realise` leaves it
        (the saved state holds the factors)."""
        return task.build_model(dict(widths), gate=lambda knob, width, dim: ChannelScale(torch.ones(width), dim))

    def _warmup_steps(self, task: Task) -> int:
        if self.mode != "penalty" or self.warmup == 0:
            return 0
        return round(self.warmup * count_steps(task, self.epochs))


def realise(task: Task, model: nn.Module, axes: KnobAxes, gates: NoisyGates, widths: dict[str, int]) -> nn.Module:
    """The model at `widths`: highest-μ channels first, z = clamp(μ, 0, 1) kept as a fixed scale per site."""
    work = copy.deepcopy(model)
    kept: dict[str, torch.Tensor] = {}
    for knob, mu in gates.mus.items():
        order = torch.argsort(mu.detach().cpu(), descending=True, stable=True)
        permute_knob(work, axes, knob, order)
        kept[knob] = mu.detach().clamp(0.0, 1.0)[order.to(mu.device)][: widths[knob]]
    return extract(task, work, widths, gate=lambda knob, width, dim: ChannelScale(kept[knob], dim))



def _normal_cdf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1 + torch.erf(x / math.sqrt(2)))
