"""`magnitude-unstructured`: global L1 magnitude sparsity (torch.nn.utils.prune), iterative fine-tuning.

Zeros do not make dense kernels cheaper: the candidate is the dense-shaped model, whose measured
(fvcore) MACs are the dense MACs. What sparse kernels could save is reported as a *theoretical*
cost in the facts (`macs_kind="theoretical"`, `macs_theoretical`):

    macs_theoretical = Σ_prunable (dense MACs of the weight × its nonzero fraction) + other MACs

The bench's counter gives both (`count_macs(..., sparse=True)` scales each Linear, convolution and
recurrent layer's MACs by its weights' nonzero share), so claimed and measured costs share one counter.
Epoch fairness as in `magnitude`: pretrain + steps·finetune = the task recipe's epochs by default.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import prune

from methods.base import METHODS, Candidate, Method, RunContext
from methods.training import fit, pretrain_dense
from tasks.base import Task
from tasks.registry import Count, Epochs


def prunable_weights(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """(module, parameter name) of every Linear/conv weight and RNN weight_ih/weight_hh matrix."""
    found = []
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.modules.conv._ConvNd)):
            found.append((module, "weight"))
        elif isinstance(module, nn.RNNBase):
            found += [(module, name) for name, _ in module.named_parameters(recurse=False) if name.startswith("weight_")]
    return found


def nonzero_fraction(model: nn.Module) -> float:
    """The share of nonzero entries over all prunable weights."""
    weights = [getattr(module, name) for module, name in prunable_weights(model)]
    return sum(int(torch.count_nonzero(w)) for w in weights) / sum(w.numel() for w in weights)


@METHODS.register("magnitude-unstructured")
@dataclass
class MagnitudeUnstructured(Method):
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

    def run(self, task: Task, ctx: RunContext) -> list[Candidate]:
        dense = pretrain_dense(task, ctx, self.steps, self.pretrain_epochs, self.finetune_epochs)
        model, example, dense_macs = dense.model, dense.example, dense.macs
        pretrain, finetune = dense.pretrain_epochs, dense.finetune_epochs
        candidates = []
        for index, sparsity in enumerate(sorted(self.sparsities)):
            sparse = copy.deepcopy(model)
            params = prunable_weights(sparse)
            seconds, history = dense.seconds, list(dense.history)
            for stage in range(1, self.steps + 1):
                # amount is a share of the weights still unpruned: reach sparsity·stage/steps overall
                done = sparsity * (stage - 1) / self.steps
                goal = sparsity * stage / self.steps
                prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=(goal - done) / (1 - done))
                if finetune:  # the masks stay on: pruned weights stay zero while the rest adapt
                    tuned = fit(sparse, task, ctx, epochs=finetune, seed_offset=1 + index * self.steps + stage)
                    seconds, history = seconds + tuned.seconds, history + tuned.history
            for module, name in params:
                prune.remove(module, name)
            sparse.eval()
            macs, nonzero = ctx.count_macs(sparse, example, sparse=True), nonzero_fraction(sparse)
            candidates.append(
                Candidate(
                    model=sparse,
                    label=f"sparse-{sparsity:g}",
                    facts={
                        "sparsity": sparsity,
                        "nonzero_fraction": nonzero,
                        "macs_kind": "theoretical",
                        "macs_theoretical": macs,
                        "steps": self.steps,
                        "history": history,
                    },
                    train_seconds=seconds,
                    train_epochs=pretrain + self.steps * finetune,
                )
            )
        return candidates
