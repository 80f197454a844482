"""Copy a wide model's leading channels into a narrower model of the same family.

A task's width knobs keep channels in priority order, so the model at smaller widths is the full
model with every tensor sliced to its leading channels (tasks/base.py). Tensors that stack several
gates along their first axis (RNN gates, attention's packed q/k/v projection) are sliced per gate.
Width-learning and pruning methods share this to realise their models physically.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from tasks.base import Task, model_device

_RNN_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4}
_RNN_STACKED = ("weight_ih_l", "weight_hh_l", "bias_ih_l", "bias_hh_l")


def copy_leading_channels(src: nn.Module, dst: nn.Module) -> None:
    """Fill every parameter and buffer of `dst` with the leading slice of `src`'s same-named tensor.

    Names only in `src` (a gate's own parameters and buffers) are ignored; a name only in `dst`, a
    different number of dimensions or a `dst` dimension larger than `src`'s is an error.
    """
    source = dict(src.named_parameters(remove_duplicate=False))
    source.update(src.named_buffers(remove_duplicate=False))
    targets = dict(dst.named_parameters(remove_duplicate=False))
    targets.update(dst.named_buffers(remove_duplicate=False))
    slices = leading_slices(source, dst)
    with torch.no_grad():  # every tensor is checked before any is written
        for name, value in slices.items():
            targets[name].copy_(value)


def leading_slices(
    source: Mapping[str, torch.Tensor], dst: nn.Module, *, buffers: bool = True
) -> dict[str, torch.Tensor]:
    """Name -> the leading slice of `source[name]` shaped like `dst`'s parameter (and buffer) `name`.

    The slices are views, so they are differentiable: running `dst`'s structure on them with
    `torch.func.functional_call` trains the wide tensors in `source` (slimmable training).
    """
    blocks = _gate_blocks(dst)
    targets = list(dst.named_parameters(remove_duplicate=False))
    if buffers:
        targets += list(dst.named_buffers(remove_duplicate=False))
    missing = [name for name, _ in targets if name not in source]
    if missing:
        raise KeyError(f"tensors of the narrow model missing from the source model: {', '.join(missing)}")
    return {name: _leading(source[name], target.shape, blocks.get(name, 1), name) for name, target in targets}


def extract(task: Task, src_model: nn.Module, widths: dict[str, int]) -> nn.Module:
    """A plain (gate-free) model of `task` at `widths`, holding `src_model`'s leading channels."""
    with torch.random.fork_rng(devices=[]):  # its initialisation is overwritten: leave the RNG alone
        model = task.build_model(widths)
    model.to(model_device(src_model))
    copy_leading_channels(src_model, model)
    return model.eval()


def _gate_blocks(model: nn.Module) -> dict[str, int]:
    """Name -> number of gate blocks stacked along dim 0, for tensors laid out that way."""
    blocks: dict[str, int] = {}
    for prefix, module in model.named_modules():
        dot = f"{prefix}." if prefix else ""
        if isinstance(module, nn.RNNBase):
            for name, _ in module.named_parameters(recurse=False):
                if name.startswith(_RNN_STACKED):
                    blocks[dot + name] = _RNN_GATES[module.mode]
        elif isinstance(module, nn.MultiheadAttention):
            blocks.update({f"{dot}in_proj_weight": 3, f"{dot}in_proj_bias": 3})
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
