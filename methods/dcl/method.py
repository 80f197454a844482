"""`dcl`: learn each knob's width during training with Dynamic Complexity Layers, then extract.

"penalty" mode: task loss + α·MACs(K)/MACs(K_max), the paper's trade-off knob. κ starts half a
channel below the full width (K = N − ½), so the blended channel exists and the task loss has a
gradient in K from the first step (at K = N the layer is the identity and that gradient is 0).
κ takes plain SGD steps of its own, κ −= η·∂loss/∂κ with η = `kappa_travel` / (steps of the run),
each clipped to `kappa_step` channels of its knob (`KappaSteps`), while the weights use Adam: under Adam, which divides by the gradient's RMS, the first penalty
gradients became full-size steps whatever α was (about 7 mel bands a step on vad) and every vad
run ended at κ_min, so α chose nothing. With SGD, κ's velocity is the net gradient α·∂cost/∂κ −
∂task/∂κ: α sets how fast and how far K moves, and it stops where the task's marginal gain
equals α times the marginal cost; normalising η by the run's length makes α mean the same for a
short vad run and a long synthetic one. The warm-up ramps α from 0 over the first 20 % of steps,
so the widths are cut by what the trained network needs rather than while it is untrained.
The extracted model keeps ⌈K⌉ channels, what the layer passes in eval mode.

"budget" mode: a ceiling b on the fraction of the dense MACs. Training holds the equality
MACs(K)/MACs_max = b by a stiff two-sided quadratic penalty (ρ/2)·(MACs(K)/MACs_max − b)², i.e.
the augmented-Lagrangian term without its multiplier, κ taking Adam-normalised steps of
`kappa_step` channels (`KappaSteps`: not a multiple of the task's learning rate, which made κ's
speed follow it, e.g. 24 mel bands a step at vad's lr 1e-2). Why not the two options the paper's
objective suggests (arXiv 2601.13704):
- a Lagrange multiplier by dual ascent oscillated (±20 channels of 64, final MACs off by −34 % to
  +8 % on the synthetic task): Adam divides κ's gradient by its running RMS, so whatever the
  multiplier's size κ moves at its full learning rate in the multiplier's direction, and the
  integral action plus Adam's momentum lag make a limit cycle; the quadratic term is proportional
  instead, its offset from the target is ḡ/ρ for a task gradient ḡ, and the penalty's long-memory
  RMS makes Adam's steps shrink with the excess;
- a hinge only pushes down: an undershoot left by momentum, or a target above what the task
  needs, is never pulled back, whereas a user who asks for a cost should get that cost.
Extraction then rounds each K down or up, the combination of most MACs within b (`budget.py`), so
the realised model lies in [b − 5 %, b]; a budget no width can meet that closely is refused before
training.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tradeoff_bench.methods.base import METHODS, Candidate, MacCounter, RunContext
from tradeoff_bench.methods.dcl.budget import ceiling_widths
from tradeoff_bench.methods.dcl.complexity import ComplexityModel, fit_complexity
from tradeoff_bench.methods.dcl.layer import DCLGates, check_kappa_min, kept_width
from tradeoff_bench.methods.dcl.objective import CostObjective, CostSettings
from tradeoff_bench.methods.slicing import extract
from tradeoff_bench.methods.training import count_steps, fit, rounded_widths, training_facts
from tradeoff_bench.tasks.base import Task


@METHODS.register("dcl")
@dataclass
class DCL(CostSettings):
    """Dynamic Complexity Layers at every width knob (Gómez & Bäckström 2026)."""

    kappa_min: float = 0.125
    """Lower bound of every κ = K / full width."""
    kappa_step: float = 1.0
    """κ's largest move per optimiser step, in channels of its knob, in both modes, whatever the
    task's learning rate: budget mode takes Adam-normalised steps of this size, penalty mode's SGD
    steps are clipped to it."""
    kappa_travel: float = 2.0
    """Penalty mode: κ's SGD learning rate times the run's number of steps, i.e. how far κ would move
    over the run under a constant net gradient of 1 (each step at most `kappa_step` channels)."""
    budget_rho: float = 1e4
    """Budget mode: stiffness ρ of the quadratic penalty on the MACs fraction's distance to the target."""
    knobs: tuple[str, ...] | None = None
    """The knobs that get a DCL (e.g. one residual stage, as in the paper's per-stage runs); the
    others keep their full width. None: every knob."""

    description = "learn widths during training with Dynamic Complexity Layers (penalty or MAC budget)"

    def _check_settings(self) -> None:
        super()._check_settings()
        check_kappa_min(self.kappa_min)
        if min(self.kappa_step, self.kappa_travel, self.budget_rho) <= 0:
            raise ValueError("kappa_step, kappa_travel and budget_rho must be > 0")
        if self.knobs is not None and not self.knobs:
            raise ValueError("knobs must name at least one knob (or be unset: every knob)")

    def check(self, task: Task, count_macs: MacCounter | None = None) -> None:
        task.check_knobs(self.knobs or ())
        super().check(task, count_macs)

    def run(self, task: Task, ctx: RunContext) -> list[Candidate]:
        self.check(task)
        complexity = fit_complexity(task, ctx.count_macs)
        self.check_budget(task, complexity)
        gates = DCLGates(self.kappa_min, self.knobs)
        model = task.build_model(gate=gates)
        steps = count_steps(task, self.epochs)
        objective = DCLObjective(self, task, gates, complexity, steps)
        kappas = list(gates.kappas().values())
        stepper = KappaSteps(
            gates, self.kappa_step, sgd_lr=self.kappa_travel / steps if self.mode == "penalty" else None
        )

        def after_step() -> None:
            stepper.step_()
            objective.after_step()

        weights = [p for p in model.parameters() if all(p is not k for k in kappas)]
        groups = [{"params": weights, "lr": task.recipe.lr}]
        result = fit(
            model, task, ctx, epochs=self.epochs, step_loss=objective.loss, param_groups=groups,
            after_step=after_step, epoch_facts=lambda: {"K": rounded_widths(gates.effective_widths())},
            structure=lambda: self._extracted_widths(task, complexity, gates),
        )  # fmt: skip
        widths = self._extracted_widths(task, complexity, gates)
        gates.fix_widths_(widths)
        facts: dict[str, object] = {
            "learned_K": {k: v.item() for k, v in gates.effective_widths().items()},
            "kappa": {k: v.item() for k, v in gates.kappas().items()},
            "mode": self.mode,
            "predicted_macs": complexity.exact(widths),
            **training_facts(result),
        }
        if self.mode == "budget":
            facts["target_fraction"] = self.budget
        label = self.cost_label("dcl")
        if self.kappa_min != DCL.kappa_min:  # runs that differ only in κ_min (the paper's rows) stay apart
            label += f"-kmin{self.kappa_min:g}"
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
                trained=model.eval(),
            )
        ]

    def _extracted_widths(self, task: Task, complexity: ComplexityModel, gates: DCLGates) -> dict[str, int]:
        """Penalty mode: ⌈K⌉, what eval mode passes. Budget mode: the ⌊K⌋/⌈K⌉ choice under the budget."""
        if self.mode == "penalty":
            return task.resolve_widths(gates.kept_widths())
        learned = {k: v.item() for k, v in gates.effective_widths().items()}
        fixed = {k: n for k, n in task.knobs.items() if k not in learned}
        return ceiling_widths(complexity, learned, fixed, self.budget, self.narrowest(task))

    def narrowest(self, task: Task) -> dict[str, int]:
        return {k: kept_width(self.kappa_min, n) if self._learns(k) else n for k, n in task.knobs.items()}

    def _learns(self, knob: str) -> bool:
        return self.knobs is None or knob in self.knobs

    def narrowest_rule(self) -> str:
        return f"kappa_min={self.kappa_min:g}"


class KappaSteps:
    """κ's own optimiser, outside the weights', with steps measured in channels of each knob.

    Each step moves a knob's K by at most `channels` (κ by channels / width), so κ's speed does not
    follow the task's learning rate. With `sgd_lr` (penalty mode): κ −= sgd_lr·∂loss/∂κ, clipped.
    Without (budget mode): Adam's normalised direction m̂/(√v̂ + ε), clipped to ±1, times the step, so
    the first steps move exactly `channels` and the step shrinks as the gradient's sign flips."""

    BETAS = (0.9, 0.999)
    EPS = 1e-8

    def __init__(self, gates: DCLGates, channels: float, sgd_lr: float | None = None) -> None:
        self.gates, self.channels, self.sgd_lr = gates, channels, sgd_lr
        self.moments: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.count = 0

    @torch.no_grad()
    def step_(self) -> None:
        """One step of every κ that has a gradient, then clear the gradients."""
        self.count += 1
        beta1, beta2 = self.BETAS
        for knob, kappa in self.gates.kappas().items():
            if kappa.grad is None:
                continue
            cap = self.channels / self.gates.layers[knob][0].width
            grad = kappa.grad
            if self.sgd_lr is not None:
                delta = self.sgd_lr * grad
            else:
                m, v = self.moments.get(knob, (torch.zeros_like(grad), torch.zeros_like(grad)))
                m, v = beta1 * m + (1 - beta1) * grad, beta2 * v + (1 - beta2) * grad**2
                self.moments[knob] = (m, v)
                m_hat, v_hat = m / (1 - beta1**self.count), v / (1 - beta2**self.count)
                delta = cap * (m_hat / (v_hat.sqrt() + self.EPS)).clamp(-1.0, 1.0)
            kappa.sub_(delta.clamp(-cap, cap))
            kappa.grad = None


class DCLObjective(CostObjective):
    """The shared cost objective on the DCLs' K (budget mode: the quadratic alone, λ = 0), κ projected
    onto [κ_min, 1] after each step."""

    def __init__(self, method: DCL, task: Task, gates: DCLGates, complexity: ComplexityModel, steps: int = 0) -> None:
        super().__init__(method, task, complexity, gates.effective_widths, steps, rho=method.budget_rho)
        self.gates = gates

    def after_step(self) -> None:
        self.gates.project_()
        super().after_step()
