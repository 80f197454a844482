"""The cost axes a report can rank by (`report --cost AXIS`): what each is, its unit, and how it is shown.

Every axis is a field of the record (`core.records`), measured the same way for every candidate:

- `macs`: multiply-accumulates of one forward on the task's example input (fvcore);
- `bops`: bit-operations, each MAC x its weight bits x its activation bits (float32 32 x 32, int8 8 x 8);
- `weight_bytes`: the deployable weights (int8 values 1 byte + qparams, float32 4 bytes a value);
- `peak_activation_bytes`: the largest live memory of one forward, measured by the allocator;
- `latency_ms`, `onnx_latency_ms`: median single-thread CPU time of one forward in eager PyTorch and in
  ONNX Runtime, from the run's latency phase (`bench.latency`).

A budget ("@ <= 25 %") is a fraction of the full-width dense model's value on the same axis
(`Record.full_costs`). MACs and bit-operations may be theoretical: a method whose facts give a
theoretical MAC count (unstructured sparsity counts the non-zero weights only) is ranked by it, and
its bit-operations scale with it; such costs stay marked (†). The measured axes are never theoretical.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CostAxis:
    name: str
    """The record field, and the name `report --cost` takes."""
    label: str
    """How tables and plots name it."""
    description: str
    theoretical: bool
    """Whether a method's theoretical MAC count applies to it (MACs, bit-operations)."""
    si: bool = True
    """Shown with an SI prefix (counts and bytes) rather than as a plain number (milliseconds)."""


COST_AXES: dict[str, CostAxis] = {
    axis.name: axis
    for axis in (
        CostAxis("macs", "MACs", "multiply-accumulates per example input (fvcore)", True),
        CostAxis("bops", "bit-ops", "MACs x weight bits x activation bits", True),
        CostAxis("weight_bytes", "weight bytes", "deployable weights: int8 1 byte + qparams, float32 4", False),
        CostAxis("peak_activation_bytes", "peak activation bytes", "largest live memory of one forward", False),
        CostAxis(
            "latency_ms", "latency ms", "eager PyTorch, 1 thread, median of a 95 % CI within 5 %", False, si=False
        ),
        CostAxis("onnx_latency_ms", "ONNX latency ms", "ONNX Runtime, 1 thread, same timing", False, si=False),
    )
}
DEFAULT_AXIS = "macs"
ALIASES = {"latency": "latency_ms", "onnx_latency": "onnx_latency_ms", "onnx": "onnx_latency_ms"}


def cost_axis(name: str) -> CostAxis:
    """The axis called `name` (or an alias: `latency`, `onnx_latency`); KeyError naming the axes."""
    key = ALIASES.get(name, name)
    if key not in COST_AXES:
        raise KeyError(f"unknown cost axis {name!r}: one of {', '.join(COST_AXES)}")
    return COST_AXES[key]
