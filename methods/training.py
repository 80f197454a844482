"""The one training loop every method shares, so budgets and schedules are the same for all."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from tradeoff_bench.methods.base import RunContext, seeded_rng
from tradeoff_bench.tasks.base import Task

StepLoss = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]

CONVERGENCE_TOLERANCE = 0.02
CONVERGENCE_TAIL = 0.4
"""A fit has not converged when the best dev value of its last `CONVERGENCE_TAIL` of the epochs beats
the best before them by more than `CONVERGENCE_TOLERANCE` (relative). Two fifths, not one: under the
cosine decay the last fifth runs below a tenth of the peak learning rate and gains little however
far from the plateau (measured, synthetic: 1.9 % over the last fifth after 20 epochs, at 2.4 times
the plateau MSE; over the last two fifths 9-12 % after 20-40 epochs, at most 1.5 % within 1 % of it)."""


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss; the cell is recorded as failed."""


@dataclass(frozen=True)
class FitResult:
    seconds: float
    steps: int
    epochs: int
    final_loss: float
    history: list[dict[str, Any]]
    """Per epoch: `loss` (mean training loss), `dev` (the primary metric on the val split), `widths`
    (what `structure` returned), what `epoch_facts` added (e.g. learned widths) and `selected` (the
    epoch whose parameters the model holds); JSON-native, for a candidate's `facts["history"]`."""
    selected_epoch: int
    """The epoch (1-based) whose parameters the model was left with: the best dev epoch at the final
    structure, or the last epoch without a dev metric (0 for no epochs)."""
    converged: bool | None
    """False while the dev metric still improved markedly over the last two fifths of the epochs
    (`CONVERGENCE_TAIL`); None without a dev metric or with fewer than two epochs."""
    reused: dict[str, str] | None = None
    """Set when this fit was not run here but read from the training cache (`RunContext.trained`):
    `phase` (this method's name for it), `key` (the cache entry) and `from` (the method and cell
    that trained it). `seconds` are then the seconds of that training."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-native, for the training cache (`from_dict` reads it back)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FitResult:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})


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
    structure: Callable[[], Mapping[str, int]] | None = None,
    dev: bool = True,
    seed_offset: int = 0,
) -> FitResult:
    """Train `model` on the task's train split with Adam and a per-epoch cosine learning-rate decay,
    then restore the parameters of its best dev epoch (the model selection rule every method shares).

    `step_loss(model, x, y)` replaces the plain task loss (a penalty, several forward passes);
    `after_step` runs after every optimiser step (projections, schedules); `epoch_facts` adds
    JSON-native values to each epoch's history entry. `structure` returns the widths the model would
    be realised at after the current epoch, for a model whose widths move while it trains: only
    epochs at the last epoch's structure are then eligible. Epochs tied on the dev metric (common
    where it saturates, e.g. 0 % EER on the attacks seen in training) are told apart by the mean dev
    loss, then the later epoch wins. `dev=False` skips the dev metric, and so the selection (a model
    whose evaluation would change it, e.g. quantisation observers): the last epoch is kept. `seed_offset` gives a second training phase of
    the same cell its own shuffling order.
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
    best = _BestEpochs(task.higher_is_better)
    for epoch in range(epochs):
        total, batches_seen = 0.0, 0
        scale = 0.5 * (1 + math.cos(math.pi * epoch / epochs))
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"] * scale
        batches = task.batches(
            "train", recipe.batch_size, shuffle=True, seed=_shuffle_seed(ctx.seed, seed_offset, epoch)
        )
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
            entry["dev"], entry["dev_loss"] = _dev_scores(model, task)
        if structure is not None:
            entry["widths"] = dict(structure())
        if dev:
            best.offer(epoch + 1, (entry["dev"], entry["dev_loss"]), entry.get("widths"), model)
        history.append({**entry, **(epoch_facts() if epoch_facts is not None else {})})
        ctx.log(f"epoch {epoch + 1}/{epochs} " + " ".join(f"{k} {v}" for k, v in entry.items() if k != "epoch"))
    selected = best.restore(model, history[-1].get("widths")) if dev and history else epochs
    for entry in history:
        entry["selected"] = entry["epoch"] == selected
    model.eval()
    converged = convergence([e["dev"] for e in history], task.higher_is_better) if dev else None
    return FitResult(time.perf_counter() - start, step, epochs, loss_value, history, selected, converged)


def convergence(devs: list[float], higher_is_better: bool) -> bool | None:
    """False when the best of the last `CONVERGENCE_TAIL` of `devs` (at least one) beats the best before
    it by more than `CONVERGENCE_TOLERANCE` relative; None with fewer than two values."""
    tail = max(1, math.ceil(len(devs) * CONVERGENCE_TAIL))
    if len(devs) - tail < 1:
        return None
    pick = max if higher_is_better else min
    before, last = pick(devs[:-tail]), pick(devs[-tail:])
    gain = last - before if higher_is_better else before - last
    return gain <= CONVERGENCE_TOLERANCE * abs(before)


def training_facts(*phases: FitResult) -> dict[str, Any]:
    """A candidate's facts from the fits behind it, in order: `history` (every phase's epochs),
    `selected_epoch` (within the last phase), `converged` (no phase that can be judged was still
    improving markedly) and, where a phase came from the training cache, `reused` (one entry each)."""
    judged = [phase.converged for phase in phases if phase.converged is not None]
    history = [entry for phase in phases for entry in phase.history]
    facts = {"history": history, "selected_epoch": phases[-1].selected_epoch, "converged": all(judged)}
    reused = [dict(phase.reused) for phase in phases if phase.reused is not None]
    return {**facts, "reused": reused} if reused else facts


def init_rng(ctx: RunContext, seed_offset: int = 0) -> contextlib.AbstractContextManager[None]:
    """The global generators seeded from the cell's seed for the block (and restored afterwards), so
    the initial weights of a model built in it do not depend on what the cell built or trained
    before: the full models of `dense` x1 and `quantization` start alike, and can share training."""
    return seeded_rng(_shuffle_seed(ctx.seed, seed_offset, -1), ctx.device)


def seeded_build(ctx: RunContext, build: Callable[[], nn.Module], seed_offset: int = 0) -> nn.Module:
    """`build()` under `init_rng`."""
    with init_rng(ctx, seed_offset):
        return build()


def shared_fit(
    model: nn.Module,
    task: Task,
    ctx: RunContext,
    *,
    phase: str,
    epochs: int | None = None,
    lr: float | None = None,
    dev: bool = True,
    seed_offset: int = 0,
) -> FitResult:
    """`fit(model, task, ctx, ...)` with the task's own loss and no hooks, through the training cache
    (`RunContext.trained`): a cell that asks for the identical training (same initial weights and
    architecture, recipe, epochs, learning rate, seeds, dev selection) gets its weights instead of
    training again. `phase` names it in the candidate's `facts["reused"]`."""
    recipe = dataclasses.replace(task.recipe, epochs=task.recipe.epochs if epochs is None else epochs)
    key_parts = {
        "fit": "task-loss",
        "architecture": hashlib.sha256(repr(model).encode()).hexdigest()[:16],
        "init": state_digest(model),
        "recipe": dataclasses.asdict(dataclasses.replace(recipe, lr=lr or recipe.lr)),
        "seed": ctx.seed,
        "seed_offset": seed_offset,
        "dev": dev,
    }

    def train(target: nn.Module) -> FitResult:
        return fit(target, task, ctx, epochs=recipe.epochs, lr=lr, dev=dev, seed_offset=seed_offset)

    return ctx.trained(phase, key_parts, model, train)


def state_digest(model: nn.Module) -> str:
    """Digest of a model's parameters and buffers: names, dtypes, shapes and values."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        flat = tensor.detach().to("cpu").contiguous().reshape(-1)
        digest.update(f"{name}:{flat.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
    return digest.hexdigest()[:32]


class _BestEpochs:
    """The best dev epoch seen at each structure, with a copy of its parameters and buffers."""

    def __init__(self, higher_is_better: bool) -> None:
        self.sign = -1.0 if higher_is_better else 1.0
        self.best: dict[str, tuple[int, tuple[float, float], dict[str, torch.Tensor]]] = {}

    def offer(self, epoch: int, dev: tuple[float, float], widths: Mapping[str, int] | None, model: nn.Module) -> None:
        """`dev` is (metric, mean loss) on the val split; the lower (signed metric, loss) wins, ties the later."""
        key = json.dumps(widths, sort_keys=True)
        rank = (self.sign * dev[0], dev[1])
        held = self.best.get(key)
        if held is None or rank <= held[1]:
            state = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
            self.best[key] = (epoch, rank, state)

    def restore(self, model: nn.Module, widths: Mapping[str, int] | None) -> int:
        """Load the best epoch at `widths` (the last epoch's) into `model`; returns that epoch."""
        epoch, _, state = self.best[json.dumps(widths, sort_keys=True)]
        model.load_state_dict(state)
        return epoch


def rounded_widths(widths: dict[str, torch.Tensor]) -> dict[str, float]:
    """Continuous widths for a history entry, to two decimals."""
    return {knob: round(value.item(), 2) for knob, value in widths.items()}


def _dev_scores(model: nn.Module, task: Task) -> tuple[float, float]:
    """The primary metric and the mean task loss on the val split, the model left in training mode."""
    model.eval()
    value, loss = task.dev_scores(model)
    model.train()
    return _round(value), _round(loss)


def _round(value: float) -> float:
    """Four significant digits: enough to read a curve, small in a record."""
    return float(f"{value:.4g}")


def count_steps(task: Task, epochs: int | None = None) -> int:
    """Optimiser steps of a `fit` of `epochs` (None: the recipe's); counting costs one pass over the data."""
    per_epoch = sum(1 for _ in task.batches("train", task.recipe.batch_size))
    return per_epoch * (epochs or task.recipe.epochs)


def _shuffle_seed(seed: int, offset: int, epoch: int) -> int:
    return (seed * 1_000_003 + offset * 10_007 + epoch) % (2**63)
