"""The one training loop every method shares, so budgets and schedules are the same for all."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from methods.base import RunContext
from tasks.base import Task

StepLoss = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss; the cell is recorded as failed."""


@dataclass(frozen=True)
class FitResult:
    seconds: float
    steps: int
    epochs: int
    final_loss: float
    history: list[dict[str, Any]]
    """Per epoch: `loss` (mean training loss), `dev` (the primary metric on the val split) and what
    `epoch_facts` added (e.g. learned widths); JSON-native, for a candidate's `facts["history"]`."""


def fit(
    model: nn.Module,
    task: Task,
    ctx: RunContext,
    *,
    epochs: int | None = None,
    lr: float | None = None,
    step_loss: StepLoss | None = None,
    param_groups: Iterable[dict[str, Any]] | None = None,
    after_step: Callable[[], None] | None = None,
    epoch_facts: Callable[[], dict[str, Any]] | None = None,
    dev: bool = True,
    seed_offset: int = 0,
) -> FitResult:
    """Train `model` on the task's train split with Adam and a per-epoch cosine learning-rate decay.

    `step_loss(model, x, y)` replaces the plain task loss (a penalty, several forward passes);
    `after_step` runs after every optimiser step (projections, schedules); `epoch_facts` adds
    JSON-native values to each epoch's history entry; `dev=False` skips the dev metric (a model
    whose evaluation would change it, e.g. quantisation observers). `seed_offset` gives a second training phase
    of the same cell its own shuffling order.
    """
    recipe = task.recipe
    epochs = recipe.epochs if epochs is None else epochs
    device = torch.device(ctx.device)
    model.to(device).train()
    groups = list(param_groups) if param_groups is not None else [{"params": list(model.parameters())}]
    optimizer = torch.optim.Adam(groups, lr=lr or recipe.lr, weight_decay=recipe.weight_decay)
    for group in optimizer.param_groups:
        group["initial_lr"] = group["lr"]
    loss_fn = step_loss or (lambda m, x, y: task.loss(m(x), y))

    start, step, loss_value, history = time.perf_counter(), 0, float("nan"), []
    for epoch in range(epochs):
        total, batches_seen = 0.0, 0
        scale = 0.5 * (1 + math.cos(math.pi * epoch / epochs))
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"] * scale
        batches = task.batches("train", recipe.batch_size, shuffle=True, seed=_shuffle_seed(ctx.seed, seed_offset, epoch))
        for x, y in batches:
            loss = loss_fn(model, x.to(device), y.to(device))
            if not torch.isfinite(loss):
                raise NonFiniteLossError(f"loss became {loss.item()} at epoch {epoch}, step {step}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if after_step is not None:
                after_step()
            step += 1
            loss_value = loss.item()
            total, batches_seen = total + loss_value, batches_seen + 1
        entry: dict[str, Any] = {"epoch": epoch + 1, "loss": _round(total / max(1, batches_seen))}
        if dev:
            entry["dev"] = _dev_metric(model, task)
        history.append({**entry, **(epoch_facts() if epoch_facts is not None else {})})
        ctx.log(f"epoch {epoch + 1}/{epochs} " + " ".join(f"{k} {v}" for k, v in entry.items() if k != "epoch"))
    model.eval()
    return FitResult(time.perf_counter() - start, step, epochs, loss_value, history)


def rounded_widths(widths: dict[str, torch.Tensor]) -> dict[str, float]:
    """Continuous widths for a history entry, to two decimals."""
    return {knob: round(value.item(), 2) for knob, value in widths.items()}


def _dev_metric(model: nn.Module, task: Task) -> float:
    """The primary metric on the val split, the model left in training mode."""
    value = task.evaluate(model, "val")[task.primary_metric]
    model.train()
    return _round(value)


def _round(value: float) -> float:
    """Four significant digits: enough to read a curve, small in a record."""
    return float(f"{value:.4g}")


def count_steps(task: Task, epochs: int | None = None) -> int:
    """Optimiser steps of a `fit` of `epochs` (None: the recipe's); counting costs one pass over the data."""
    per_epoch = sum(1 for _ in task.batches("train", task.recipe.batch_size))
    return per_epoch * (epochs or task.recipe.epochs)


def _shuffle_seed(seed: int, offset: int, epoch: int) -> int:
    return (seed * 1_000_003 + offset * 10_007 + epoch) % (2**63)
