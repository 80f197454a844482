"""Task-agnostic channel surgery on a task's model family: find, reorder and rescale a knob's channels.

`knob_axes` discovers where each width knob lives by building the model at two widths per knob and
comparing tensor shapes, so no method needs to know a task's layers. An axis whose size changes by
`b` per channel holds `b` entries per channel, laid out as `methods.slicing` slices them: block-major
for an RNN's stacked gates (GRU 3, LSTM 4) and attention's packed q/k/v (3), each block
channel-major; channel-major otherwise (a max-feature-map's interleaved pairs: channel c is entries
2c and 2c + 1).

`permute_knob` reorders a knob's channels in every tensor so that a chosen set becomes the leading
channels, which the task contract's "width w keeps channels [0, w)" then extracts. It preserves the
model's function wherever a knob's channels are interchangeable (every layer of the suite's MLPs,
convnets, RNNs, LayerNorms; not a knob split into attention heads, whose channels are grouped).

`scale_consumers` folds a per-channel multiplicative gate into the layers that read the gated
features. Rule: a tensor *consumes* a knob when the knob is its axis 1 and the tensor has at least
two axes and is a parameter (the input axis of Linear, ConvNd and RNN weights, attention's `in_proj_weight`;
an RNN's recurrent `weight_hh` reads its own gated state, as `tasks.rnn.gated_rnn` runs it). Axis 0
(weights' outputs, biases, BatchNorm and LayerNorm vectors) and buffers (a mel filterbank, running
statistics) are the producer side and are left alone.
The fold is exact when the gated features reach their consumers only through those weights (MLPs,
convnets, RNNs, a filterbank into a convolution); where they also feed a residual sum, a
normalisation or an attention product, it is an approximation that fine-tuning has to repair.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from tradeoff_bench.methods.dcl.complexity import ComplexityModel
from tradeoff_bench.methods.slicing import stacked_blocks
from tradeoff_bench.tasks.base import Task


@dataclass(frozen=True)
class Axis:
    """One axis of one named tensor that holds a knob's channels, as `blocks` stacked gate blocks."""

    name: str
    dim: int
    blocks: int = 1
    buffer: bool = False
    interleaved: bool = False
    """The `blocks` entries of a channel are adjacent (channel-major), not one per stacked block."""
    """A buffer (a fixed filterbank, running statistics), never a consumer's weight."""


KnobAxes = dict[str, list[Axis]]


def knob_axes(task: Task) -> KnobAxes:
    """Knob -> the axes of the task model's tensors (parameters and buffers) that hold its channels."""
    full = task.knobs
    reference, buffers, stacked = _shapes(task, full)
    axes: KnobAxes = {}
    for knob, width in full.items():
        found: list[Axis] = []
        if width > 1:
            narrow = max(1, width // 2)
            shapes, _, _ = _shapes(task, {**full, knob: narrow})
            for name, shape in reference.items():
                other = shapes.get(name)
                if other is None or len(other) != len(shape):
                    raise ValueError(
                        f"tensor {name!r} of task {task.name!r} changes rank or vanishes with knob {knob!r}"
                    )
                for dim, (big, small) in enumerate(zip(shape, other)):
                    if big == small:
                        continue
                    blocks, rest = divmod(big - small, width - narrow)
                    if rest or blocks < 1 or big != blocks * width:
                        raise ValueError(
                            f"axis {dim} of {name!r} ({big} at {knob}={width}, {small} at {narrow}) is not laid out "
                            f"in whole channels of knob {knob!r}"
                        )
                    interleaved = blocks > 1 and name not in stacked
                    found.append(Axis(name, dim, blocks, name in buffers, interleaved))
        axes[knob] = found
    return axes


def permute_knob(model: nn.Module, axes: KnobAxes, knob: str, order: torch.Tensor) -> None:
    """Reorder `knob`'s channels in place so that channel `order[i]` becomes channel i (per block)."""
    tensors = _tensors(model)
    order = torch.as_tensor(order, dtype=torch.long)
    with torch.no_grad():
        for axis in axes[knob]:
            tensor = tensors[axis.name]
            width = tensor.shape[axis.dim] // axis.blocks
            if sorted(order.tolist()) != list(range(width)):
                raise ValueError(f"order is not a permutation of the {width} channels of knob {knob!r}")
            index = _entries(order, width, axis).to(tensor.device)
            tensor.copy_(tensor.index_select(axis.dim, index))


def consumer_axes(axes: KnobAxes, knob: str) -> list[Axis]:
    """The axes through which layers read `knob`'s gated features (the rule in the module docstring)."""
    return [axis for axis in axes[knob] if axis.dim == 1 and not axis.buffer]


def scale_consumers(model: nn.Module, axes: KnobAxes, knob: str, scale: torch.Tensor) -> None:
    """Multiply the consumers' input weights by a per-channel `scale` of `knob` (folds a gate x·s away)."""
    tensors = _tensors(model)
    with torch.no_grad():
        for axis in consumer_axes(axes, knob):
            tensor = tensors[axis.name]
            if tensor.shape[axis.dim] != axis.blocks * scale.numel():
                raise ValueError(f"scale of {scale.numel()} channels does not fit axis {axis.dim} of {axis.name!r}")
            factor = scale.detach().to(tensor)
            factor = factor.repeat_interleave(axis.blocks) if axis.interleaved else factor.repeat(axis.blocks)
            shape = [1] * tensor.dim()
            shape[axis.dim] = factor.numel()
            tensor.mul_(factor.view(shape))


def along(vector: torch.Tensor, x: torch.Tensor, dim: int) -> torch.Tensor:
    """`vector` (one value per channel) shaped to broadcast against `x` along its axis `dim`."""
    shape = [1] * x.dim()
    shape[dim % x.dim()] = vector.numel()
    return vector.view(shape)


class ChannelScale(nn.Module):
    """x · s along the channel axis with a fixed `s`: a gate's evaluation-mode factor kept in a realised
    model where folding it into the consumers would not be exact (a residual sum, a norm, attention)."""

    scale: torch.Tensor

    def __init__(self, scale: torch.Tensor, dim: int) -> None:
        super().__init__()
        self.register_buffer("scale", scale.detach().clone())
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * along(self.scale, x, self.dim)

    def channel_scale(self) -> torch.Tensor:
        """`s`, for `tasks.rnn.gated_rnn`."""
        return self.scale


def fold_gate(model: nn.Module, axes: KnobAxes, knob: str, score: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Put `knob`'s channels in descending `score` order and fold the per-channel `scale` (given in the
    old order) into the consumers; returns the order used (new channel i is old channel order[i])."""
    order = torch.argsort(score.detach().cpu(), descending=True, stable=True)
    permute_knob(model, axes, knob, order)
    scale_consumers(model, axes, knob, scale.detach().cpu()[order])
    return order


def narrowest_fraction(task: Task) -> float:
    """fvcore MACs of the model with one channel per knob, as a fraction of the full model's: the
    lowest MAC target that narrowing the knobs can reach."""
    from tradeoff_bench.core.flops import count_macs

    example = task.example_input()
    full = count_macs(task.build_model().eval(), example)
    return count_macs(task.build_model({knob: 1 for knob in task.knobs}).eval(), example) / full


def threshold_widths(scores: dict[str, torch.Tensor], complexity: ComplexityModel, target: float) -> dict[str, int]:
    """Widths of the lowest global score threshold whose complexity-model MACs fit `target` · full.

    Lowering the threshold adds one channel at a time in descending score order, so the MACs only
    grow; every knob keeps at least its best channel. A target below that floor is an error."""
    budget = target * complexity.full_macs
    widths = {knob: 1 for knob in scores}
    if complexity.exact(widths) > budget:
        raise ValueError(
            f"MAC target {target:g} is below {complexity.exact(widths) / complexity.full_macs:.4g}, the fraction of "
            "the model with one channel per knob"
        )
    ranked = sorted(
        ((float(s), knob) for knob, values in scores.items() for s in values.sort(descending=True).values[1:]),
        key=lambda item: -item[0],
    )
    for _, knob in ranked:
        trial = {**widths, knob: widths[knob] + 1}
        if complexity.exact(trial) > budget:
            break
        widths = trial
    return widths


def _tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """Name -> tensor, each shared tensor under its first name only, so it is changed once."""
    return dict(model.named_parameters()) | dict(model.named_buffers())


def _entries(order: torch.Tensor, width: int, axis: Axis) -> torch.Tensor:
    """Indices along `axis` of the channels in `order`, each with all its entries."""
    if axis.interleaved:
        return (order[:, None] * axis.blocks + torch.arange(axis.blocks)).flatten()
    return torch.cat([order + block * width for block in range(axis.blocks)])


def _shapes(task: Task, widths: dict[str, int]) -> tuple[dict[str, tuple[int, ...]], set[str], set[str]]:
    """Name -> shape of every tensor of the task's model at `widths`, the buffers' names and the
    names of tensors stacked block-major."""
    with torch.random.fork_rng(devices=[]):  # building a model must not move the training RNG
        model = task.build_model(widths)
    buffers = {name for name, _ in model.named_buffers()}
    return {name: tuple(t.shape) for name, t in _tensors(model).items()}, buffers, set(stacked_blocks(model))
