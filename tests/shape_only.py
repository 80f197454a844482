"""A task with a model family and no data: enough to count MACs or to time training steps."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from tradeoff_bench.tasks.base import Batch, Task, TrainRecipe


@dataclass
class ShapeOnlyTask(Task):
    """Subclasses give `knobs`, `_build` and `example_input`; asking for data is an error."""

    name = "shape-only"
    primary_metric = "mse"

    @property
    def corpus(self) -> str:
        return "none"

    def batches(self, split: str, batch_size: int, *, shuffle: bool = False, seed: int = 0) -> Iterator[Batch]:
        raise RuntimeError(f"{type(self).__name__} has no data")

    @property
    def recipe(self) -> TrainRecipe:
        return TrainRecipe(epochs=1, batch_size=1, lr=1e-3)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(output, target)

    def evaluate(self, model: nn.Module, split: str = "test") -> dict[str, float]:
        raise RuntimeError(f"{type(self).__name__} has no data")

    @property
    def reference_metric(self) -> float:
        return 1.0


class Recurrent(nn.Module):
    """An RNN over (batch, channels, frames) input, returning its per-frame outputs."""

    def __init__(self, rnn: nn.RNNBase) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x.transpose(1, 2))[0]
