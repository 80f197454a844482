"""`noisy-gates`: stochastic gates with a Gaussian relaxation (Yamada et al. 2020) on a task's knobs' channels.

Every knob is gated, or with `knobs=[...]` (as `dcl`'s) only those; the others keep their full width
(the paper's "SG" comparison gates the mel bands only, arXiv 2601.13704, VAD table).

Each channel c of a knob has a gate z_c = clamp(μ_c + σ·ε_c, 0, 1), ε ~ N(0, 1) drawn once per
training step and knob (the sites of a knob share μ and ε), and z_c = clamp(μ_c, 0, 1) at evaluation.
A channel is open with probability Φ(μ_c/σ), so a knob's expected width is E[K] = Σ_c Φ(μ_c/σ), and
the cost is `dcl`'s (`methods.dcl.objective`): the DCL complexity model at the expected widths, the
same penalty (α·MACs/MACs_full after the same warm-up) and the same budget as a ceiling, which makes
the two noise-injection methods comparable at matched cost. The difference is what the noise does:
DCL blends one channel at the edge of an ordered width; here every channel has its own gate and the
noise decides which survive.

Budget mode ends with a settle phase (the last `settle` fraction of the steps). Trained on E[K]
alone, the gates undershot: many settle just below μ = 0, still open in training with probability
Φ(μ/σ) but shut at evaluation (vad, b = 0.25: 0.05 of the full MACs kept). At the settle step, the
widths are chosen as `dcl` chooses them, from E[K] (`methods.dcl.budget`: the richest ⌊K⌋/⌈K⌉
choice under the ceiling, widened while a channel still fits), the highest-μ channels of each knob
kept open (μ ≥ MU_OPEN) and the others closed for good (μ at its lower bound, no noise), and the
network trains on for the remaining steps without the cost terms, the kept gates still noisy and
learned. So the model that training ends with is the one extraction keeps, and its MACs lie in
[b − 5 %, b]. (Making the gates deterministic in that phase, and opening each kept gate to its
mean training value, cost 0.8 EER points at b = 0.75 on vad, seeds 0–2.)

Extraction keeps the channels with μ > 0 (those whose evaluation gate is open; at least one per
knob), moves them first in descending μ, slices, and keeps z = clamp(μ, 0, 1) of the kept channels
as a fixed per-channel scale at every site (0 MACs): the candidate computes exactly what the gated
model computes at evaluation, also where z feeds a residual sum, a norm or attention, which a fold
into the consumers would only approximate.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from tradeoff_bench.methods.base import METHODS, Candidate, MacCounter, RunContext
from tradeoff_bench.methods.channels import ChannelScale, KnobAxes, along, knob_axes, permute_knob
from tradeoff_bench.methods.dcl.budget import ceiling_widths, widen_to_budget
from tradeoff_bench.methods.dcl.complexity import ComplexityModel, fit_complexity
from tradeoff_bench.methods.dcl.objective import CostObjective, CostSettings
from tradeoff_bench.methods.slicing import extract
from tradeoff_bench.methods.training import count_steps, fit, rounded_widths, training_facts
from tradeoff_bench.tasks.base import Task

MU_INIT = 0.5
"""Yamada et al.'s initial μ: every gate half open, P(open) = Φ(0.5/σ)."""
MU_RANGE = (-2.0, 3.0)
"""μ is clamped here after each step: beyond it a gate is settled and its gradient is negligible."""
MU_OPEN = 0.01
"""After the settle step, the least μ of a kept gate: it stays open (counted) whatever the task gradient does."""


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

    def __init__(self, sigma: float, knobs: Collection[str] | None = None, ordered: Collection[str] = ()) -> None:
        self.sigma = sigma
        self.only = None if knobs is None else frozenset(knobs)
        self.ordered = frozenset(ordered)
        """Knobs whose channels keep their order (`Task.ordered_knobs`): a prefix up to the last open gate is kept."""
        self.mus: dict[str, nn.Parameter] = {}
        self.noise: dict[str, torch.Tensor] = {}
        self.kept: dict[str, torch.Tensor] | None = None
        """Per knob, the channels kept open since the settle step (`settle_`); None before it."""

    def __call__(self, knob: str, width: int, dim: int) -> nn.Module:
        if self.only is not None and knob not in self.only:
            return nn.Identity()
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
            noise = self.noise[knob] if self.kept is None else self.noise[knob] * self.kept[knob]
            mu = mu + self.sigma * noise
        return mu.clamp(0.0, 1.0)

    def effective_widths(self) -> dict[str, torch.Tensor]:
        """E[K] = Σ Φ(μ/σ) per knob, differentiable in μ."""
        return {k: _normal_cdf(mu / self.sigma).sum() for k, mu in self.mus.items()}

    def kept_widths(self) -> dict[str, int]:
        """Channels kept: those whose evaluation gate is open (μ > 0), at least one per knob; for an
        ordered knob, every channel up to its last open one (shut ones between are kept at z = 0)."""
        return {k: max(1, self._kept(k, mu.detach() > 0)) for k, mu in self.mus.items()}

    def _kept(self, knob: str, open_: torch.Tensor) -> int:
        if knob in self.ordered:
            return int(open_.nonzero().max()) + 1 if bool(open_.any()) else 0
        return int(open_.sum())

    def keep_order(self, knob: str, mu: torch.Tensor) -> torch.Tensor:
        """The channel order extraction keeps: highest μ first, or as they are for an ordered knob."""
        if knob in self.ordered:
            return torch.arange(mu.numel(), device=mu.device)
        return mu.detach().argsort(descending=True, stable=True)

    @torch.no_grad()
    def settle_(self, widths: Mapping[str, int]) -> dict[str, int]:
        """Keep each knob's `widths[knob]` highest-μ channels (an ordered knob: its leading ones) open
        (μ ≥ MU_OPEN) and close the others for good (μ at its lower bound, no noise); returns per knob
        how many gates changed side."""
        self.kept, changed = {}, {}
        for knob, mu in self.mus.items():
            order = self.keep_order(knob, mu)
            keep = torch.zeros_like(mu, dtype=torch.bool)
            keep[order[: widths[knob]]] = True
            changed[knob] = int((keep != (mu > 0)).sum())
            self.kept[knob] = keep
        self.project_()
        return changed

    @torch.no_grad()
    def project_(self) -> None:
        """Clamp μ to MU_RANGE; after the settle step, also hold the kept gates open and the rest shut."""
        for knob, mu in self.mus.items():
            mu.clamp_(*MU_RANGE)
            if self.kept is not None:
                keep = self.kept[knob]
                mu.copy_(torch.where(keep, mu.clamp_min(MU_OPEN), torch.full_like(mu, MU_RANGE[0])))


class NoisyGatesObjective(CostObjective):
    """The shared cost objective on E[K], with fresh gate noise every step; after the settle step, the
    task loss alone.

    The penalty mode is `dcl`'s. In budget mode the multiplier λ of the shared objective is set by
    a dual (PI) controller on the relative excess e = (cost − b)/b: λ = I + gain·e with I += dual_lr·e,
    of either sign, so λ also reopens gates when the cost falls below b (the quadratic ½ρ·(cost − b)²
    is off by default, ρ = 0). Why not `dcl`'s stiff quadratic (½ρ(cost − b)² alone): under Adam its
    gradient has the same sign for every μ and dominates the task's, so every μ sinks in lockstep to
    where Φ(μ/σ) = b (below 0 for b < ½) and evaluation keeps almost nothing (measured: 1 of 64
    channels kept at b = 0.25 with E[K] = 16 exactly); a moderate multiplier leaves the task loss
    room to hold the useful gates open and close the rest. The controller brings E[K] near b, not
    onto the kept widths' MACs; the settle step (`NoisyGatesMethod`) then fixes the widths."""

    def __init__(
        self, method: NoisyGatesMethod, task: Task, gates: NoisyGates, complexity: ComplexityModel, steps: int
    ):
        super().__init__(method, task, complexity, gates.effective_widths, steps, rho=method.budget_rho)
        self.gates, self.integral = gates, 0.0
        self.settle_at = steps - max(1, round(method.settle * steps)) if method.mode == "budget" else None
        """The step at which the budget's widths are fixed (`settle_`); None: never (penalty mode)."""
        self.changed_at_settle: dict[str, int] = {}

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.gates.kept is None and self.settle_at is not None and self.steps >= self.settle_at:
            self.changed_at_settle = self.gates.settle_(self.budget_widths())
        self.gates.resample_()
        if self.gates.kept is not None:
            return self.task.loss(model(x), y)
        return super().loss(model, x, y)

    def budget_widths(self) -> dict[str, int]:
        """`dcl`'s choice under the budget from E[K] (the richest ⌊K⌋/⌈K⌉ rounding under the ceiling),
        widened while a channel still fits."""
        learned = {k: v.item() for k, v in self.gates.effective_widths().items()}
        fixed = {k: n for k, n in self.task.knobs.items() if k not in learned}
        widths = ceiling_widths(self.complexity, learned, fixed, self.method.budget, {k: 1 for k in learned})
        return widen_to_budget(self.complexity, widths, learned, self.method.budget)

    def after_step(self) -> None:
        self.gates.project_()
        super().after_step()
        if self.method.mode == "budget" and self.gates.kept is None:  # PI control of λ on the relative excess
            method: NoisyGatesMethod = self.method  # type: ignore[assignment]
            excess = (self.last_cost.item() - method.budget) / method.budget
            self.integral += method.dual_lr * excess
            self.multiplier = self.integral + method.dual_gain * excess


@METHODS.register("noisy-gates")
@dataclass
class NoisyGatesMethod(CostSettings):
    """Stochastic gates with a Gaussian relaxation on every knob's channels, cost from the DCL model."""

    sigma: float = 0.5
    """Standard deviation of the gates' noise (Yamada et al. use 0.5)."""
    mu_lr_scale: float = 10.0
    """μ's learning rate as a multiple of the weights'."""
    dual_lr: float = 0.02
    """Budget mode: step of the multiplier's dual ascent per unit of relative excess MACs."""
    dual_gain: float = 0.5
    """Budget mode: proportional term of the multiplier (λ = integral + gain · relative excess)."""
    budget_rho: float = 0.0
    """Budget mode: stiffness ρ of an added quadratic ½ρ·(cost − b)² (an augmented Lagrangian)."""
    settle: float = 0.25
    """Budget mode: fraction of the steps, at the end, trained with the budget's widths fixed (at least one step)."""
    knobs: tuple[str, ...] | None = None
    """The knobs that get gates (e.g. `["mels"]`, the paper's SG); the others keep their full width.
    None: every knob."""

    description = "stochastic gates with Gaussian noise (Yamada et al. 2020), MAC cost from the DCL model"
    tiny_settings = {"epochs": 1}

    def _check_settings(self) -> None:
        super()._check_settings()
        if self.sigma <= 0 or self.mu_lr_scale <= 0 or self.dual_lr <= 0 or self.budget_rho < 0:
            raise ValueError("sigma, mu_lr_scale and dual_lr must be > 0 and budget_rho >= 0")
        if not 0 < self.settle < 1:
            raise ValueError(f"settle must be in (0, 1), got {self.settle}")
        if self.knobs is not None and not self.knobs:
            raise ValueError("knobs must name at least one knob (or be unset: every knob)")

    def check(self, task: Task, count_macs: MacCounter | None = None) -> None:
        task.check_knobs(self.knobs or ())
        super().check(task, count_macs)

    def narrowest(self, task: Task) -> dict[str, int]:
        return {k: 1 if self.knobs is None or k in self.knobs else n for k, n in task.knobs.items()}

    def run(self, task: Task, ctx: RunContext) -> list[Candidate]:
        self.check(task)
        complexity = fit_complexity(task, ctx.count_macs)
        self.check_budget(task, complexity)
        axes = knob_axes(task)
        gates = NoisyGates(self.sigma, self.knobs, task.ordered_knobs)
        model = task.build_model(gate=gates)
        objective = NoisyGatesObjective(self, task, gates, complexity, count_steps(task, self.epochs))
        mus = list(gates.mus.values())
        weights = [p for p in model.parameters() if all(p is not mu for mu in mus)]
        lr = task.recipe.lr
        groups = [{"params": weights, "lr": lr}, {"params": mus, "lr": lr * self.mu_lr_scale, "weight_decay": 0.0}]
        result = fit(
            model, task, ctx, epochs=self.epochs, step_loss=objective.loss, param_groups=groups,
            after_step=objective.after_step, epoch_facts=lambda: {"E[K]": rounded_widths(gates.effective_widths())},
            structure=gates.kept_widths,
        )  # fmt: skip
        widths = task.resolve_widths(gates.kept_widths())
        realised = realise(task, model, axes, gates, widths)
        macs = int(ctx.count_macs(realised, task.example_input()))
        facts: dict[str, object] = {
            "mode": self.mode,
            "expected_K": {k: v.item() for k, v in gates.effective_widths().items()},
            "predicted_macs": complexity.exact(widths),
            "achieved_fraction": macs / complexity.full_macs,
            **training_facts(result),
        }
        if self.mode == "budget":
            facts.update(target_fraction=self.budget, changed_at_settle=objective.changed_at_settle)
        label = self.cost_label("stg") + ("-" + "+".join(self.knobs) if self.knobs is not None else "")
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


def realise(task: Task, model: nn.Module, axes: KnobAxes, gates: NoisyGates, widths: dict[str, int]) -> nn.Module:
    """The model at `widths`: highest-μ channels first (an ordered knob's in place), z = clamp(μ, 0, 1) kept as a fixed scale per site
    (1 at the sites of knobs without gates, as `build_candidate` builds them)."""
    work = copy.deepcopy(model)
    kept = {knob: torch.ones(width) for knob, width in widths.items()}
    for knob, mu in gates.mus.items():
        order = gates.keep_order(knob, mu.cpu())
        permute_knob(work, axes, knob, order)
        kept[knob] = mu.detach().clamp(0.0, 1.0)[order.to(mu.device)][: widths[knob]]
    return extract(task, work, widths, gate=lambda knob, width, dim: ChannelScale(kept[knob], dim))


def _normal_cdf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1 + torch.erf(x / math.sqrt(2)))
