"""`synthetic`: regression onto a fixed random teacher whose hidden layer has a known width r.

The student family can represent the teacher exactly once a hidden layer has r units, and not
below, so a width-learning method can be checked against the right answer. Data are drawn in
memory from `data_seed` (independent of the training seed), so every machine sees the same split.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from torch import nn

from tradeoff_bench.core.registry import Epochs
from tradeoff_bench.tasks.base import (
    TASKS,
    Batch,
    DataIdentity,
    GateFactory,
    LastOutputs,
    Task,
    TrainRecipe,
    model_device,
)
from tradeoff_bench.tasks.metrics import ItemScores
from tradeoff_bench.tasks.targets import QualityTarget
from tradeoff_bench.tasks.user_model import check_model_name

SPLITS = ("train", "val", "test")


@TASKS.register("synthetic")
@dataclass
class SyntheticTask(Task):
    """Teacher y = W2·relu(W1·x) + noise with r hidden units; students are MLPs or 1-D convnets."""

    model: str = "mlp"
    """`mlp` / `conv`: the suite's students; or a builder of your own, `FILE.py:FUNCTION` /
    `MODULE:FUNCTION` / an entry point (README, "Bring your own model"), on the `mlp` data: vectors
    (batch, in_features) -> targets (batch, out_features)."""
    teacher_width: int = 16
    max_width: int = 64
    depth: int = 1
    in_features: int = 20
    out_features: int = 4
    length: int = 16
    kernel_size: int = 5
    noise_std: float = 0.1
    n_train: int = 4096
    n_val: int = 1024
    n_test: int = 2048
    data_seed: int = 0
    epochs: Epochs = 120
    """Converged: the dense model's dev MSE after 120 epochs is within 0.5 % of 160's (80: 3 % above)."""
    batch_size: int = 128
    lr: float = 3e-3

    name = "synthetic"
    model_families = ("mlp", "conv")
    primary_metric = "mse"
    quality_target = QualityTarget(0.05, relative=True)  # MSE within 5 %
    description = "regression onto a random teacher with a known hidden width r (test MSE)"
    tiny_variants = (
        {"n_train": 256, "n_val": 64, "n_test": 128, "epochs": 2, "max_width": 16, "teacher_width": 4},
        {
            "model": "conv",
            "depth": 2,
            "n_train": 128,
            "n_val": 32,
            "n_test": 64,
            "epochs": 1,
            "max_width": 8,
            "teacher_width": 4,
            "length": 8,
        },
    )

    def __post_init__(self) -> None:
        check_model_name(self.model, self.model_families)
        if not 1 <= self.teacher_width <= self.max_width:
            raise ValueError(f"teacher_width must be in [1, max_width={self.max_width}]")
        if self.depth < 1 or min(self.n_train, self.n_val, self.n_test) < 1:
            raise ValueError("depth and split sizes must be positive")
        self._outputs = LastOutputs()

    @property
    def data_family(self) -> str:
        """The family whose data and teacher the task uses: a user's model takes the `mlp` data."""
        return self.model if self.model in self.model_families else "mlp"

    @property
    def corpus(self) -> str:
        return f"synthetic-{self.data_family}-r{self.teacher_width}-seed{self.data_seed}"

    @property
    def recipe(self) -> TrainRecipe:
        return TrainRecipe(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr)

    @property
    def knobs(self) -> dict[str, int]:
        if (user := self.user_knobs()) is not None:
            return user
        return {f"hidden{i + 1}": self.max_width for i in range(self.depth)}

    @property
    def cost_unit(self) -> str:
        return "example" if self.data_family == "mlp" else f"sequence of {self.length} steps"

    # --- data -------------------------------------------------------------------------------
    @cached_property
    def _data(self) -> dict[str, Batch]:
        gen = torch.Generator().manual_seed(self.data_seed)
        with torch.random.fork_rng(devices=[]):  # layer init must not move the training RNG
            teacher = self._teacher(gen)
        sizes = {"train": self.n_train, "val": self.n_val, "test": self.n_test}
        data = {}
        for split in SPLITS:
            x = torch.randn(sizes[split], *self._input_shape(), generator=gen)
            with torch.no_grad():
                y = teacher(x)
            data[split] = (x, y + self.noise_std * torch.randn(y.shape, generator=gen))
        return data

    def _input_shape(self) -> tuple[int, ...]:
        if self.data_family == "mlp":
            return (self.in_features,)
        return (self.in_features, self.length)

    def _teacher(self, gen: torch.Generator) -> nn.Module:
        teacher = self._family({"hidden1": self.teacher_width}, 1, lambda knob, width, dim: nn.Identity())
        first, last = teacher[0], teacher[-1]
        with torch.no_grad():
            for layer in (first, last):
                weight, bias = layer.get_parameter("weight"), layer.get_parameter("bias")
                weight.copy_(torch.randn(weight.shape, generator=gen))
                bias.copy_(0.1 * torch.randn(bias.shape, generator=gen))
            first_weight = first.get_parameter("weight")
            first_weight.div_(first_weight[0].numel() ** 0.5)
            x = torch.randn(4096, *self._input_shape(), generator=gen)
            y = teacher(x)
            last.get_parameter("weight").div_(y.std())  # unit output variance: the noise floor is noise_std**2
            last.get_parameter("bias").zero_()
        return teacher.eval()

    def batches(self, split: str, batch_size: int, *, shuffle: bool = False, seed: int = 0) -> Iterator[Batch]:
        if split not in SPLITS:
            raise ValueError(f"Unknown split {split!r}; expected one of {SPLITS}")
        x, y = self._data[split]
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed)) if shuffle else None
        for start in range(0, len(x), batch_size):
            index = slice(start, start + batch_size) if order is None else order[start : start + batch_size]
            yield x[index], y[index]

    # --- model ------------------------------------------------------------------------------
    def _build(self, widths: dict[str, int], gate: GateFactory) -> nn.Module:
        return self._family(widths, self.depth, gate)

    def _family(self, widths: dict[str, int], depth: int, gate: GateFactory) -> nn.Sequential:
        layers: list[nn.Module] = []
        width_in = self.in_features
        for i in range(depth):
            knob = f"hidden{i + 1}"
            channel_axis = -1 if self.data_family == "mlp" else 1
            layers += [
                self._layer(width_in, widths[knob], first=i == 0),
                nn.ReLU(),
                gate(knob, widths[knob], channel_axis),
            ]
            width_in = widths[knob]
        layers.append(self._layer(width_in, self.out_features, first=False))
        return nn.Sequential(*layers)

    def _layer(self, width_in: int, width_out: int, *, first: bool) -> nn.Module:
        if self.data_family == "mlp":
            return nn.Linear(width_in, width_out)
        kernel = self.kernel_size if first else 1
        return nn.Conv1d(width_in, width_out, kernel, padding=kernel // 2)

    def data_identity(self, split: str) -> DataIdentity:
        """Inputs are fresh draws; the teacher (its width and seed) is the task itself."""
        return DataIdentity(same={"teacher": f"width {self.teacher_width}, data_seed {self.data_seed}"})

    def example_input(self) -> torch.Tensor:
        return torch.zeros(1, *self._input_shape())

    # --- objective --------------------------------------------------------------------------
    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(output, target)

    def evaluate(self, model: nn.Module, split: str = "test") -> dict[str, float]:
        return {"mse": self.item_scores(model, split).metric("mse")}

    def item_scores(self, model: nn.Module, split: str = "test") -> ItemScores:
        """One row per example: its own mean squared error (examples weigh equally, so their mean is the MSE)."""
        errors = self._outputs.get(model, split, lambda: self._errors(model, split))
        return ItemScores(np.arange(errors.size), np.full(errors.size, np.nan), errors)

    @torch.no_grad()
    def _errors(self, model: nn.Module, split: str) -> np.ndarray:
        model.eval()
        device = model_device(model)
        errors = [
            (model(x.to(device)) - y.to(device)).square().flatten(1).mean(dim=1).float().cpu()
            for x, y in self.batches(split, 1024)
        ]
        return torch.cat(errors).numpy()

    @property
    def reference_metric(self) -> float:
        """MSE of always predicting the training mean."""
        train_y, test_y = self._data["train"][1], self._data["test"][1]
        mean = train_y.mean(dim=0, keepdim=True)
        return float(((test_y - mean) ** 2).mean())
