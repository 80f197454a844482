"""Copy a wide model's leading channels into a narrower model of the same family.

A task's width knobs keep channels in priority order, so the model at smaller widths is the full
model with every tensor sliced to its leading channels (tasks/base.py). Tensors that stack several
gates along their first axis (RNN gates, attention's packed q/k/v projection) are sliced per gate.
Width-learning and pruning methods share this to realise their models physically.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import torch
from torch import nn

from tradeoff_bench.tasks.base import GateFactory, Task, model_device
from tradeoff_bench.tasks.user_model import STACKED_ATTR

_RNN_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4}
_RNN_STACKED = ("weight_ih_l", "weight_hh_l", "bias_ih_l", "bias_hh_l")


def copy_leading_channels(src: nn.Module, dst: nn.Module, skip: Collection[str] = ()) -> None:
    """Fill every parameter and buffer of `dst` with the leading slice of `src`'s same-named tensor.

    Names only in `src` (a gate's own parameters and buffers) are ignored, and so are the tensors of
    `dst`'s modules named in `skip`; any other name only in `dst`, a different number of dimensions
    or a `dst` dimension larger than `src`'s is an error.
    """
    source: dict[str, torch.Tensor] = dict(src.named_parameters(remove_duplicate=False))
    source.update(src.named_buffers(remove_duplicate=False))
    targets: dict[str, torch.Tensor] = dict(dst.named_parameters(remove_duplicate=False))
    targets.update(dst.named_buffers(remove_duplicate=False))
    slices = leading_slices(source, dst, skip=skip)
    with torch.no_grad():  # every tensor is checked before any is written
        for name, value in slices.items():
            targets[name].copy_(value)


def leading_slices(
    source: Mapping[str, torch.Tensor], dst: nn.Module, *, buffers: bool = True, skip: Collection[str] = ()
) -> dict[str, torch.Tensor]:
    """Name -> the leading slice of `source[name]` shaped like `dst`'s parameter (and buffer) `name`.

    The slices are views, so they are differentiable: running `dst`'s structure on them with
    `torch.func.functional_call` trains the wide tensors in `source` (slimmable training).
    """
    blocks = stacked_blocks(dst)
    targets: list[tuple[str, torch.Tensor]] = list(dst.named_parameters(remove_duplicate=False))
    if buffers:
        targets += list(dst.named_buffers(remove_duplicate=False))
    targets = [(name, t) for name, t in targets if name.rpartition(".")[0] not in skip]
    missing = [name for name, _ in targets if name not in source]
    if missing:
        raise KeyError(f"tensors of the narrow model missing from the source model: {', '.join(missing)}")
    return {name: _leading(source[name], target.shape, blocks.get(name, 1), name) for name, target in targets}


def extract(task: Task, src_model: nn.Module, widths: dict[str, int], gate: GateFactory | None = None) -> nn.Module:
    """A model of `task` at `widths` holding `src_model`'s leading channels: plain, or with the modules
    `gate` makes at the knob sites (which keep their own tensors, e.g. a fixed per-channel scale)."""
    made: list[nn.Module] = []

    def recording(knob: str, width: int, dim: int) -> nn.Module:
        assert gate is not None
        made.append(gate(knob, width, dim))
        return made[-1]

    with torch.random.fork_rng(devices=[]):  # its initialisation is overwritten: leave the RNG alone
        model = task.build_model(widths, gate=recording if gate is not None else None)
    model.to(model_device(src_model))
    skip = {name for name, module in model.named_modules() if any(module is m for m in made)}
    copy_leading_channels(src_model, model, skip=skip)
    return model.eval()


def stacked_blocks(model: nn.Module) -> dict[str, int]:
    """Name -> number of gate blocks stacked block-major along dim 0 (RNN gates, packed q/k/v).

    So do the output channels of a user's layer that a max-feature-map pools in halves
    (`tasks.user_model.STACKED_ATTR`). Any other tensor whose axis holds several entries per channel
    (the built-in LCNN's channel pairs) has them channel-major, so its leading slice keeps whole
    channels."""
    blocks: dict[str, int] = {}
    for prefix, module in model.named_modules():
        dot = f"{prefix}." if prefix else ""
        if isinstance(module, nn.RNNBase):
            for name, _ in module.named_parameters(recurse=False):
                if name.startswith(_RNN_STACKED):
                    blocks[dot + name] = _RNN_GATES[module.mode]
        elif isinstance(module, nn.MultiheadAttention):
            blocks.update({f"{dot}in_proj_weight": 3, f"{dot}in_proj_bias": 3})
        elif hasattr(module, STACKED_ATTR):  # a user's layer before a max-feature-map over halves
            tensors = [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]
            blocks.update({dot + name: getattr(module, STACKED_ATTR) for name, t in tensors if t.dim() > 0})
    return blocks


def _leading(tensor: torch.Tensor, shape: torch.Size, blocks: int, name: str) -> torch.Tensor:
    if tensor.dim() != len(shape) or any(want > have for want, have in zip(shape, tensor.shape)):
        raise ValueError(f"cannot slice {name!r} of shape {tuple(tensor.shape)} to {tuple(shape)}")
    if blocks > 1 and shape[0] != tensor.shape[0]:
        if tensor.shape[0] % blocks or shape[0] % blocks:
            raise ValueError(f"{name!r}: first axis {tensor.shape[0]} -> {shape[0]} is not {blocks} gate blocks")
        split = tensor.unflatten(0, (blocks, tensor.shape[0] // blocks))
        tensor = split[:, : shape[0] // blocks].flatten(0, 1)
    for dim, size in enumerate(shape):
        tensor = tensor.narrow(dim, 0, size)
    return tensor
