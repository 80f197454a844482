"""The measurement every candidate gets, the same for all: MACs, parameters, bytes, latency, metrics.

Candidates are measured in eval mode: the task's metrics on its test split (and the files it keeps,
`Task.outputs`) where the model is, so a cell that trained on a GPU also evaluates there; then, on
CPU, MACs on the task's `example_input` (core.flops), every parameter, the size of the saved state
dict and the median single-thread latency of one forward on `example_input`.
"""

from __future__ import annotations

import dataclasses
import io
import math
import statistics
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from tradeoff_bench.core.flops import Inputs, count_macs, eval_mode
from tradeoff_bench.core.records import Attachment
from tradeoff_bench.tasks.base import Task


@dataclass(frozen=True)
class Measurement:
    """What the bench records about one candidate model."""

    macs: int
    params: int
    bytes: int
    latency_ms: float
    metrics: dict[str, float]
    outputs: dict[str, Attachment] = dataclasses.field(default_factory=dict, repr=False)
    """`Task.outputs` of the model: file name -> text or bytes."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def measure_model(
    model: nn.Module, task: Task, *, cost_model: nn.Module | None = None, warmup: int = 3, repeats: int = 20
) -> Measurement:
    """Measure `model` for `task`: metrics and outputs where it is, then the costs on CPU. The model
    is moved to CPU (in place); its train/eval flags are kept.

    `cost_model` is the float model whose graph `model` runs, for models fvcore cannot trace
    (quantised ones): their MACs are counted on it; everything else is measured on `model`.
    Raises ValueError when the task's primary metric is missing or not finite (e.g. NaN outputs).
    """
    metrics, outputs = measure_metrics(model, task)
    with eval_mode(model.to("cpu")):
        example = task.example_input()
        return Measurement(
            macs=count_macs(cost_model if cost_model is not None else model, example),
            params=count_params(
                cost_model if cost_model is not None else model
            ),  # int8 weights are packed, not parameters
            bytes=state_bytes(model),
            latency_ms=latency_ms(model, example, warmup=warmup, repeats=repeats),
            metrics=metrics,
            outputs=outputs,
        )


def measure_metrics(model: nn.Module, task: Task) -> tuple[dict[str, float], dict[str, str | bytes]]:
    """The task's metrics of `model` on its test split, and the files it keeps (`Task.outputs`),
    in eval mode where the model is. Raises ValueError when the primary metric is missing or not finite."""
    with eval_mode(model):
        metrics = {name: float(value) for name, value in task.evaluate(model, "test").items()}
        primary = metrics.get(task.primary_metric)
        if primary is None or not math.isfinite(primary):
            raise ValueError(
                f"Task {task.name!r} gave primary metric {task.primary_metric!r} = {primary!r} "
                f"(metrics: {metrics}); expected a finite number"
            )
        return metrics, task.outputs(model)


def count_params(model: nn.Module) -> int:
    """Every parameter, trainable or not; a shared parameter counts once."""
    return sum(p.numel() for p in model.parameters())


def state_bytes(model: nn.Module) -> int:
    """Size of `torch.save(model.state_dict())`: what storing the model costs."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes


def latency_ms(model: nn.Module, example_input: Inputs, *, warmup: int, repeats: int, threads: int = 1) -> float:
    """Median wall time in ms of one forward on `example_input`, in eval mode under no_grad.

    Runs where the model is; uses `threads` intra-op threads and restores the previous setting.
    Synchronises only on CUDA, so the timing covers the work and not just its launch.
    """
    if repeats < 1 or warmup < 0 or threads < 1:
        raise ValueError(f"Need repeats >= 1, warmup >= 0, threads >= 1; got {repeats}, {warmup}, {threads}")
    args = example_input if isinstance(example_input, tuple) else (example_input,)
    cuda = [a.device for a in args if isinstance(a, torch.Tensor) and a.device.type == "cuda"]

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(cuda[0])

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with eval_mode(model), torch.no_grad():
            for _ in range(warmup):
                model(*args)
            sync()
            times: list[float] = []
            for _ in range(repeats):
                start = time.perf_counter()
                model(*args)
                sync()
                times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous_threads)
    return 1000.0 * statistics.median(times)
