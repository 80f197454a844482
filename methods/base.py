"""The Method contract: a way of making a task's model cheaper, yielding realised candidates.

A method is a dataclass whose fields are its hyper-parameters (with defaults); `run` trains or
compresses models for one task and seed and returns candidates. A candidate's model is *physically
realised*: the tensors inference would run (a pruned or width-learned model really is smaller).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np
import torch
from torch import nn

from tradeoff_bench.methods import METHODS as METHODS  # re-exported: methods register through this module
from tradeoff_bench.tasks.base import Task, _json_native

if TYPE_CHECKING:
    from tradeoff_bench.methods.training import FitResult


@dataclass
class Candidate:
    """One model to measure, with what the method knows about it."""

    model: nn.Module
    label: str
    widths: dict[str, int] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    """Method-specific JSON-native facts (learned widths, bit-width, sparsity, ...)."""
    train_seconds: float = 0.0
    """Training time spent on this candidate (shared training counted for each candidate)."""
    train_epochs: float = 0.0
    """Total epochs of training behind this candidate (pre-training + fine-tuning)."""
    cost_model: nn.Module | None = None
    """For a model fvcore cannot trace (a quantised one): the float model whose graph it runs.
    Its MACs are the candidate's; latency, bytes and metrics are still measured on `model`."""
    trained: nn.Module | None = None
    """The gated or masked model `model` was extracted from, when it was (dcl, noisy-gates,
    network-slimming). The contract tests check that `model` computes what `trained` computes in
    eval mode, unless the method fine-tuned after extraction and says so: `facts["finetune_epochs"] > 0`."""


class MacCounter(Protocol):
    """(model, example input) -> MACs, the same counter the bench measures candidates with;
    `sparse=True` counts only the multiply-adds of nonzero weights (what sparse kernels would run)."""

    def __call__(self, model: nn.Module, example_input: torch.Tensor, *, sparse: bool = False) -> int: ...


Train = Callable[[nn.Module], "FitResult"]
"""Trains the model it is given in place and says how (`methods.training.fit`, bound to its settings)."""


class PhaseCache(Protocol):
    """Trained phases shared between cells (the bench's `bench.cache.TrainingCache` is one).

    `resolve` leaves `model` holding the weights of the training that `key_parts` describes: read
    from an entry another cell (or an earlier phase) wrote, with `FitResult.reused` saying so, or
    trained now by `train(model)` and kept for whoever asks next. `phase` names the phase for the
    record (`facts["reused"]`); it is not part of the key."""

    def resolve(self, phase: str, key_parts: Mapping[str, Any], model: nn.Module, train: Train) -> FitResult: ...


@dataclass(frozen=True)
class RunContext:
    """What the runner hands a method besides the task.

    `count_macs` is the bench's own counter, so a method that aims at a MAC target (or learns a
    differentiable cost) agrees exactly with how its candidates will be measured. `cache`, when the
    bench gives one, lets identical trainings of different cells happen once (`trained`).
    """

    seed: int
    count_macs: MacCounter
    device: str = "cpu"
    log: Callable[[str], None] = lambda message: None
    cache: PhaseCache | None = None

    def trained(self, phase: str, key_parts: Mapping[str, Any], model: nn.Module, train: Train) -> FitResult:
        """`train(model)`, or the weights and fit of the identical training another cell already ran.

        `key_parts` (JSON-native) must name everything besides the task, the code and the machine
        (which the cache adds) that the result depends on: the model's initial weights, the recipe,
        the seeds, any method-specific training parameter (`methods.training.shared_fit` builds
        them for a plain `fit`). Training runs with the global random generators seeded from
        `key_parts` and restored afterwards, so it draws the same numbers whoever runs it, and what
        the cell does next does not depend on whether the phase was trained or read. `train` must
        not resolve another phase (a waiting cell holds no lock, a training one holds its own)."""
        with seeded_rng(_key_seed(key_parts), self.device):
            if self.cache is None:
                return train(model)
            return self.cache.resolve(phase, key_parts, model, train)


@contextlib.contextmanager
def seeded_rng(seed: int, device: str = "cpu") -> Iterator[None]:
    """Run the block with torch's, numpy's and Python's global generators seeded with `seed`, and
    put them back as they were afterwards (the block's draws leave no trace outside it)."""
    devices = [torch.device(device).index or 0] if torch.device(device).type == "cuda" else []
    state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=devices):
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(state)
            np.random.set_state(np_state)


def _key_seed(key_parts: Mapping[str, Any]) -> int:
    text = json.dumps(_json_native(dict(key_parts)), sort_keys=True, separators=(",", ":"))
    return int(hashlib.sha256(text.encode()).hexdigest()[:15], 16)


@dataclass
class Method(ABC):
    """Base class of every method; subclasses are dataclasses registered in `METHODS`."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    tiny_settings: ClassVar[dict[str, Any]] = {}
    """Settings that make a run take seconds on a tiny task, for the contract tests."""

    def settings(self) -> dict[str, Any]:
        return _json_native(dataclasses.asdict(self))

    def check(self, task: Task) -> None:
        """Reject settings that cannot work on `task`, before any training. Default: accept."""

    @abstractmethod
    def run(self, task: Task, ctx: RunContext) -> list[Candidate]:
        """Train or compress models of `task` and return the realised candidates."""

    def build_candidate(self, task: Task, widths: Mapping[str, int], facts: Mapping[str, Any]) -> nn.Module:
        """An untrained model of the structure of a candidate this method made (with these widths
        and facts), for its saved weights to be loaded into. Default: the task's model at `widths`."""
        return task.build_model(widths)
