"""The Method contract: a way of making a task's model cheaper, yielding realised candidates.

A method is a dataclass whose fields are its hyper-parameters (with defaults); `run` trains or
compresses models for one task and seed and returns candidates. A candidate's model is *physically
realised*: the tensors inference would run (a pruned or width-learned model really is smaller).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import torch
from torch import nn

from tradeoff_bench.methods import METHODS as METHODS  # re-exported: methods register through this module
from tradeoff_bench.tasks.base import Task, _json_native


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


@dataclass(frozen=True)
class RunContext:
    """What the runner hands a method besides the task.

    `count_macs` is the bench's own counter, so a method that aims at a MAC target (or learns a
    differentiable cost) agrees exactly with how its candidates will be measured.
    """

    seed: int
    count_macs: MacCounter
    device: str = "cpu"
    log: Callable[[str], None] = lambda message: None


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
