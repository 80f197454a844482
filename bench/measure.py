"""The measurement every candidate gets, the same for all: its cost axes and the task's metrics.

Candidates are measured in eval mode: the task's metrics on its test split (and the files it keeps,
`Task.outputs`) where the model is, so a cell that trained on a GPU also evaluates there; then, on
CPU, on the task's `example_input`: MACs (core.flops), bit-operations and deployable weight bytes
(core.costs: the same rules for every method), every parameter, the size of the saved state dict, and
the peak activation memory of one forward, measured by the allocator (`peak_activation_bytes`).

Latency is not measured here, beside training: `bench.latency` times every candidate's saved model
in its own serialised phase after the grid's cells.
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import warnings
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from tradeoff_bench.core.costs import bit_operations, weight_bytes
from tradeoff_bench.core.flops import Inputs, count_macs, eval_mode
from tradeoff_bench.core.records import Attachment
from tradeoff_bench.tasks.base import Task


@dataclass(frozen=True)
class Measurement:
    """What the bench records about one candidate model."""

    macs: int
    params: int
    bytes: int
    bops: int
    """Bit-operations: each MAC x its weight bits x its activation bits (core.costs)."""
    weight_bytes: int
    """Deployable weights: int8 values at 1 byte + qparams, float32 at 4 (core.costs)."""
    peak_activation_bytes: int
    """Largest live memory the allocator held during one forward on the example input."""
    metrics: dict[str, float]
    operating_point: dict[str, float] = dataclasses.field(default_factory=dict)
    """For a detection task (EER primary metric): the threshold chosen on dev and the test error there."""
    outputs: dict[str, Attachment] = dataclasses.field(default_factory=dict, repr=False)
    """`Task.outputs` of the model: file name -> text or bytes."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def measure_model(model: nn.Module, task: Task, *, cost_model: nn.Module | None = None) -> Measurement:
    """Measure `model` for `task`: metrics and outputs where it is, then the costs on CPU. The model
    is moved to CPU (in place); its train/eval flags are kept.

    `cost_model` is the float model whose graph `model` runs, for models fvcore cannot trace
    (quantised ones): their MACs are counted on it; everything else is measured on `model`.
    Raises ValueError when the task's primary metric is missing or not finite (e.g. NaN outputs).
    """
    metrics, outputs = measure_metrics(model, task)
    with eval_mode(model):
        point = operating_point(model, task)
    with eval_mode(model.to("cpu")):
        example = task.example_input()
        bops, macs = bit_operations(model, example, count_macs, cost_model=cost_model)
        return Measurement(
            macs=macs,
            params=count_params(
                cost_model if cost_model is not None else model
            ),  # int8 weights are packed, not parameters
            bytes=state_bytes(model),
            bops=bops,
            weight_bytes=weight_bytes(model),
            peak_activation_bytes=peak_activation_bytes(model, example),
            metrics=metrics,
            operating_point=point,
            outputs=outputs,
        )


def operating_point(model: nn.Module, task: Task) -> dict[str, float]:
    """Where a detector would run when deployed: the EER threshold of its dev ("val") scores, and on
    test at that threshold the miss and false-alarm rates and their mean (%), beside the test EER,
    whose threshold is picked on test itself. Empty for tasks not ranked by EER or without scores."""
    if task.primary_metric != "eer":
        return {}
    from tradeoff_bench.tasks.scoring import equal_error_rate

    dev, test = task.item_scores(model, "val"), task.item_scores(model, "test")
    if dev is None or test is None:
        return {}
    dev_eer, threshold = equal_error_rate(dev.score[dev.label == 1], dev.score[dev.label == 0])
    positive, negative = test.score[test.label == 1], test.score[test.label == 0]
    miss = float((positive <= threshold).mean()) * 100  # the DET recipe rejects scores at the threshold
    false_alarm = float((negative > threshold).mean()) * 100
    return {
        "dev_threshold": float(threshold),
        "dev_eer": 100.0 * dev_eer,
        "test_miss_at_dev_threshold": miss,
        "test_false_alarm_at_dev_threshold": false_alarm,
        "test_error_at_dev_threshold": (miss + false_alarm) / 2,
    }


def full_costs(task: Task) -> dict[str, int]:
    """The cost axes of the task's full-width dense model (untrained: its costs do not depend on the
    weights): the denominators of "@ <= x % of the full model's AXIS" budgets."""
    model = task.build_model().eval()
    example = task.example_input()
    bops, macs = bit_operations(model, example, count_macs)
    return {
        "macs": macs,
        "bops": bops,
        "weight_bytes": weight_bytes(model),
        "peak_activation_bytes": peak_activation_bytes(model, example),
    }


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


def peak_activation_bytes(model: nn.Module, example_input: Inputs) -> int:
    """The largest number of bytes the CPU allocator holds at once, above what it held before, during
    one forward of `model` on `example_input` (eval mode, no_grad, after one warm-up forward).

    Measured with torch.profiler(profile_memory=True): every allocation and free of the forward, in
    order, summed; the peak of that running sum. It counts activations, the output and the kernels'
    own temporaries (a GRU's gate workspace, a quantised layer's int8 copy of its input), and not the
    weights or the input, which exist before the forward: what running the model adds to memory.
    The profiler sees the allocator rather than guessing from shapes, so views, in-place operators and
    tensors freed as soon as they are used are counted as the runtime really holds them.
    """
    os.environ.setdefault("KINETO_LOG_LEVEL", "5")  # else kineto logs a CUDA probe's failure on CPU machines
    from torch.profiler import ProfilerActivity, profile

    args = example_input if isinstance(example_input, tuple) else (example_input,)
    with eval_mode(model), torch.no_grad():
        model(*args)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
                model(*args)
    results = getattr(prof.profiler, "kineto_results", None) if prof.profiler is not None else None
    if results is None:
        raise RuntimeError("torch.profiler gave no memory events: cannot measure peak activation memory")
    events = sorted((e.start_ns(), e.nbytes()) for e in results.events() if e.name() == "[memory]")
    live = peak = 0
    for _, change in events:
        live += change
        peak = max(peak, live)
    return peak
