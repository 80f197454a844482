"""`magnitude`: structured channel pruning by L2 weight magnitude on Torch-Pruning's dependency graph.

One run trains the full model once (`pretrain_epochs`), then, for each MAC target and starting
from a copy of that trained model (so candidates are independent and every one has the same
training behind it), prunes in `steps` stages: stage s aims at MACs ≤ full·(1 − (1 − target)·s/steps),
reached by removing ~5 % of the prunable channels at a time (global ranking of normalised group
scores, or the same share of every layer) and counting MACs with the bench's own counter after
every removal; `finetune_epochs` of training follow each stage. The output layer is never shrunk.
Two of Torch-Pruning's guards against over-pruning one layer are settings: `max_layer_ratio` caps the
share of any group's channels pruning may remove (its `max_pruning_ratio`: a capped group stops and
the others go on), and `normalizer` sets how each group's scores are normalised before the global
ranking (`GroupMagnitudeImportance(normalizer=...)`). A target the cap makes unreachable is refused
before training. The loop and the epoch budget are `methods.compress`'s: pretrain + steps·finetune = the
recipe's epochs E (finetune = round(E/2) // steps by default), the budget `dense` and `dcl` get.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

import torch
from torch import nn

from tradeoff_bench.core.registry import Count, Epochs
from tradeoff_bench.methods.base import METHODS, Candidate, RunContext
from tradeoff_bench.methods.compress import CompressFinetune, Dense, Work
from tradeoff_bench.methods.dcl.budget import TOLERANCE
from tradeoff_bench.tasks.base import Task

if TYPE_CHECKING:
    from tradeoff_bench.core.pruning_graph import Pruner

Normalizer = Literal["mean", "max", "sum", "standarization", "none"]
"""Torch-Pruning's group-score normalisations (`pruning_graph.NORMALIZERS`; its own spelling)."""


@METHODS.register("magnitude")
@dataclass
class Magnitude(CompressFinetune):
    """Prune channels of the smallest L2 magnitude until each MAC target is met."""

    targets: tuple[float, ...] = (0.25, 0.5, 0.75)
    scope: Literal["global", "layerwise"] = "global"
    max_layer_ratio: float = 1.0
    """The largest fraction of any one group's channels (a layer and what is coupled to it) pruning
    may remove, in (0, 1]; 1: down to one channel."""
    normalizer: Normalizer = "mean"
    """Normalisation of each group's L2 scores before ranking (Torch-Pruning's names): divide by the
    group's mean, max or sum, min-max scale ("standarization"), or raw norms ("none")."""
    steps: int = 3
    step_fraction: float = 0.05
    pretrain_epochs: Epochs | None = None
    finetune_epochs: Count | None = None

    description = "structured magnitude pruning (Torch-Pruning graph) to MAC targets, iterative fine-tuning"
    tiny_settings = {"targets": (0.99,), "steps": 1, "step_fraction": 0.25}
    """0.99: the tiny vad models' unprunable mel filterbank product is 0.75 (CRNN) and 0.98
    (Transformer) of their MACs, and a lower target is refused."""

    def __post_init__(self) -> None:
        if not self.targets or not all(0 < t < 1 for t in self.targets):
            raise ValueError(f"targets must be MAC fractions in (0, 1), got {self.targets}")
        if self.scope not in ("global", "layerwise"):
            raise ValueError(f"scope must be 'global' or 'layerwise', got {self.scope!r}")
        if not 0 < self.max_layer_ratio <= 1:
            raise ValueError(f"max_layer_ratio must be in (0, 1], got {self.max_layer_ratio}")
        if self.normalizer not in get_args(Normalizer):
            raise ValueError(f"normalizer must be one of {get_args(Normalizer)}, got {self.normalizer!r}")
        if self.steps < 1 or not 0 < self.step_fraction < 1:
            raise ValueError("steps must be ≥ 1 and step_fraction in (0, 1)")

    def compress_targets(self) -> list[float]:
        return sorted(self.targets)

    def check(self, task: Task) -> None:
        """Refuse, before training, a model in which the dependency graph finds no group it can prune
        (every one breaks the forward pass when it loses a channel), and a target below the MACs of
        the model with every prunable group at its floor or at `max_layer_ratio`'s cap (pruning
        order does not change which layers can shrink; the bench's counter). Where the graph cannot
        take every layer to its floor at once (the LCNN's channel pairs), no target is refused and the
        candidate's `target_met` says whether pruning reached it."""
        from tradeoff_bench.core.flops import count_macs
        from tradeoff_bench.core.pruning_graph import LayerCollapseError, Pruner

        super().check(task)
        example = task.example_input()
        with torch.random.fork_rng(devices=[]):
            model = task.build_model().eval()
        full = count_macs(model, example)
        pruner = Pruner(model, example, scope="global", step_fraction=1.0, max_ratio=self.max_layer_ratio)
        if not pruner.groups:
            unsafe = sorted(pruner.unsafe)
            why = f" (losing a channel breaks the forward pass of {', '.join(unsafe)})" if unsafe else ""
            raise ValueError(f"magnitude: the dependency graph finds no group of this model that it can prune{why}")
        try:
            pruner.step()
        except LayerCollapseError:
            return
        lowest = count_macs(model.eval(), example) / full
        unreachable = [t for t in self.targets if t < lowest]
        if unreachable:
            floor = (
                "one channel"
                if self.max_layer_ratio == 1
                else f"the cap max_layer_ratio={self.max_layer_ratio:g} (or one channel)"
            )
            raise ValueError(
                f"MAC targets {unreachable} are below {lowest:.4g}, the fraction of the most pruned model "
                f"(every prunable layer at {floor}; layers the dependency graph cannot prune keep their width)"
            )

    def epoch_settings(self) -> tuple[int | None, int | None, int]:
        return self.pretrain_epochs, self.finetune_epochs, self.steps

    def begin(self, task: Task, ctx: RunContext, dense: Dense, work: Work) -> None:
        from tradeoff_bench.core.pruning_graph import Pruner

        pruner = Pruner(
            work.model,
            dense.example,
            scope=self.scope,
            step_fraction=self.step_fraction,
            max_ratio=self.max_layer_ratio,
            normalizer=self.normalizer,
        )
        work.state = _Pruning(pruner, dense.macs)

    def compress(self, task: Task, ctx: RunContext, dense: Dense, work: Work, stage: int) -> None:
        pruning: _Pruning = work.state
        goal = dense.macs * (1 - (1 - work.target) * stage / self.steps)
        count = lambda model: ctx.count_macs(model.eval(), dense.example)  # noqa: E731
        floor = goal - TOLERANCE * dense.macs if stage == self.steps else 0.0  # the last stage lands in the band
        pruning.pruner, pruning.macs = prune_to(pruning.pruner, goal, pruning.macs, count, floor)
        work.model = pruning.pruner.model
        ctx.log(f"target {work.target:g} stage {stage}: {pruning.macs / dense.macs:.3f} of full MACs")

    def candidate(self, task: Task, ctx: RunContext, dense: Dense, work: Work) -> Candidate:
        from tradeoff_bench.core.pruning_graph import layer_widths

        macs = ctx.count_macs(work.model.eval(), dense.example)
        return Candidate(
            model=work.model.eval(),
            label=f"mag-{self.scope}-{work.target:g}",
            widths=knob_widths(task, work.model),
            facts={
                "target_fraction": work.target,
                "achieved_fraction": macs / dense.macs,
                "target_met": macs <= work.target * dense.macs,
                "layer_widths": layer_widths(work.model),
                "scope": self.scope,
                "max_layer_ratio": self.max_layer_ratio,
                "normalizer": self.normalizer,
                "steps": self.steps,
            },
        )

    def build_candidate(self, task: Task, widths: Mapping[str, int], facts: Mapping[str, Any]) -> nn.Module:
        """The full model pruned to the candidate's per-layer widths (`facts["layer_widths"]`): its
        layers need not match the knob widths, as the dependency graph prunes each group on its own."""
        from tradeoff_bench.core.pruning_graph import Pruner

        model = task.build_model().eval()
        Pruner(model, task.example_input(), scope=self.scope, step_fraction=self.step_fraction).shrink_to(
            facts["layer_widths"]
        )
        return model


@dataclass
class _Pruning:
    """A target's pruner and the MACs its model has reached."""

    pruner: Pruner
    macs: int


def prune_to(
    pruner: Pruner, goal: float, macs: int, count: Callable[[nn.Module], int], floor: float = 0.0
) -> tuple[Pruner, int]:
    """Prune until MACs ≤ `goal` (a ceiling), not below `floor` where one can: near the goal a step
    removes at most half the channels the remaining excess is worth at the last step's MACs per
    channel, and a step that falls below `floor` (one channel of an expensive layer: a stem
    convolution's on a small model) is undone and that layer frozen at its width for this target,
    so a cheaper channel is taken instead; only when no layer is left to take one from is the
    ceiling met below the floor. Returns the pruner (a restored copy after an undo) and the MACs."""
    from tradeoff_bench.core.pruning_graph import layer_widths

    per_channel: float | None = None
    frozen_from = dict(pruner.keep)
    while macs > goal:
        limit = None if per_channel is None else int(0.5 * (macs - goal) / per_channel)
        saved = copy.deepcopy(pruner.model) if per_channel is not None else None
        widths = layer_widths(pruner.model)
        removed = pruner.step(limit)
        if not removed:
            if pruner.keep == frozen_from:
                break
            pruner.keep = dict(frozen_from)  # every cheaper layer tried: meet the ceiling below the floor
            continue
        now = count(pruner.model)
        if saved is not None and now < floor and now <= goal:
            shrunk = [name for name, width in layer_widths(pruner.model).items() if width < widths.get(name, width)]
            pruner = pruner.on(saved)
            pruner.keep.update({name: widths[name] for name in shrunk if name in pruner.keep})
            continue
        per_channel, macs = max(1.0, (macs - now) / removed), now
    pruner.keep = dict(frozen_from)
    return pruner, macs


class _Probe(nn.Module):
    """Records the channel count its knob site sees (the largest seen, for knobs with many sites)."""

    def __init__(self, knob: str, dim: int, seen: dict[str, int]) -> None:
        super().__init__()
        self.knob, self.dim, self.seen = knob, dim, seen

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen[self.knob] = max(self.seen.get(self.knob, 0), int(x.shape[self.dim]))
        return x


def _with_gates(layer: nn.Module, probed: nn.Module, gates: Mapping[str, nn.Module]) -> nn.Module:
    """`layer` as is, or, where the probe's layer holds a user model's gates (`tasks.user_model`: a
    gate child, read by pre-hooks, hooks or, in a gated RNN, by its forward), a copy carrying them."""
    if not gates:
        return layer
    layer = copy.deepcopy(layer)
    for name, gate in gates.items():
        layer.add_module(name, gate)
    layer._forward_pre_hooks.update(probed._forward_pre_hooks)
    layer._forward_hooks.update(probed._forward_hooks)
    layer.__class__ = type(probed)
    return layer


def knob_widths(task: Task, pruned: nn.Module) -> dict[str, int]:
    """The width each knob site has in `pruned`, found by running a probe-gated full model whose
    layers are swapped for the pruned ones (module names do not depend on gates: tasks/base.py)."""
    seen: dict[str, int] = {}
    with torch.random.fork_rng(devices=[]):
        probe = task.build_model(gate=lambda knob, width, dim: _Probe(knob, dim, seen))
    pruned_modules = dict(pruned.named_modules())
    for name, module in list(probe.named_modules()):
        if not name or name not in pruned_modules or isinstance(module, (_Probe, nn.Identity)):
            continue
        gates = {child: gate for child, gate in module.named_children() if isinstance(gate, _Probe)}
        if isinstance(pruned_modules[name], nn.Identity) or len(gates) < len(list(module.children())):
            continue  # a container: its layers are swapped one by one
        parent, _, leaf = name.rpartition(".")
        setattr(
            probe.get_submodule(parent) if parent else probe, leaf, _with_gates(pruned_modules[name], module, gates)
        )
    with torch.no_grad():
        probe.eval()(task.example_input())
    full = task.knobs
    return {knob: min(full[knob], max(1, seen[knob])) for knob in full if knob in seen}
