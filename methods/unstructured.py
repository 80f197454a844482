"""`magnitude-unstructured`: global L1 magnitude sparsity (torch.nn.utils.prune), iterative fine-tuning.

Zeros do not make dense kernels cheaper: the candidate is the dense-shaped model, whose measured
(fvcore) MACs are the dense MACs. What sparse kernels could save is reported as a *theoretical*
cost in the facts (`macs_kind="theoretical"`, `macs_theoretical`):

    macs_theoretical = Σ_prunable (dense MACs of the weight × its nonzero fraction) + other MACs

The bench's counter gives both (`count_macs(..., sparse=True)` scales each Linear, convolution and
recurrent layer's MACs by its weights' nonzero share), so claimed and measured costs share one counter.
The loop and the epoch budget are `methods.compress`'s, as for `magnitude`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import prune

from tradeoff_bench.core.registry import Count, Epochs
from tradeoff_bench.methods.base import METHODS, Candidate, RunContext
from tradeoff_bench.methods.compress import CompressFinetune, Dense, Work
from tradeoff_bench.tasks.base import Task


def prunable_weights(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """(module, parameter name) of every Linear/conv weight and RNN weight_ih/weight_hh matrix."""
    found: list[tuple[nn.Module, str]] = []
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.modules.conv._ConvNd)):
            found.append((module, "weight"))
        elif isinstance(module, nn.RNNBase):
            found += [
                (module, name) for name, _ in module.named_parameters(recurse=False) if name.startswith("weight_")
            ]
    return found


def nonzero_fraction(model: nn.Module) -> float:
    """The share of nonzero entries over all prunable weights."""
    weights = [getattr(module, name) for module, name in prunable_weights(model)]
    return sum(int(torch.count_nonzero(w)) for w in weights) / sum(w.numel() for w in weights)


@METHODS.register("magnitude-unstructured")
@dataclass
class MagnitudeUnstructured(CompressFinetune):
    """Zero the globally smallest |w| of all prunable weights, iteratively, with fine-tuning."""

    sparsities: tuple[float, ...] = (0.5, 0.75, 0.9)
    steps: int = 3
    pretrain_epochs: Epochs | None = None
    finetune_epochs: Count | None = None

    description = "global L1 unstructured magnitude pruning; theoretical (sparse) MACs, dense measured"
    tiny_settings = {"sparsities": (0.5,), "steps": 1}

    def __post_init__(self) -> None:
        if not self.sparsities or not all(0 < s < 1 for s in self.sparsities):
            raise ValueError(f"sparsities must be in (0, 1), got {self.sparsities}")
        if self.steps < 1:
            raise ValueError("steps must be ≥ 1")

    def compress_targets(self) -> list[float]:
        return sorted(self.sparsities)

    def epoch_settings(self) -> tuple[int | None, int | None, int]:
        return self.pretrain_epochs, self.finetune_epochs, self.steps

    def begin(self, task: Task, ctx: RunContext, dense: Dense, work: Work) -> None:
        work.state = prunable_weights(work.model)

    def compress(self, task: Task, ctx: RunContext, dense: Dense, work: Work, stage: int) -> None:
        """Zero weights up to sparsity·stage/steps overall; the masks stay on through fine-tuning, so
        pruned weights stay zero while the rest adapt."""
        done = work.target * (stage - 1) / self.steps
        goal = work.target * stage / self.steps
        # amount is a share of the weights still unpruned
        prune.global_unstructured(work.state, pruning_method=prune.L1Unstructured, amount=(goal - done) / (1 - done))

    def candidate(self, task: Task, ctx: RunContext, dense: Dense, work: Work) -> Candidate:
        for module, name in work.state:
            prune.remove(module, name)
        sparse = work.model.eval()
        return Candidate(
            model=sparse,
            label=f"sparse-{work.target:g}",
            facts={
                "sparsity": work.target,
                "nonzero_fraction": nonzero_fraction(sparse),
                "macs_kind": "theoretical",
                "macs_theoretical": ctx.count_macs(sparse, dense.example, sparse=True),
                "steps": self.steps,
            },
        )
