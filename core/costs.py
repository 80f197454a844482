"""Cost rules every candidate is measured by, whatever made it: bit-operations and deployable weight bytes.

- `bit_operations`: each MAC times the bits of the weight it multiplies times the bits of the activation
  it multiplies by. A float32 MAC is 32 x 32 = 1024 bit-operations. A module holding int8 weights (a
  torch.ao quantised Linear, convolution or dynamic GRU/LSTM) runs its MACs at 8 x 8 = 64: its weights
  are int8, and its activations are int8 too (statically quantised, or quantised on the fly per batch by
  a dynamic module). The MACs of each such module are counted by fvcore on the float graph the quantised
  model was converted from (fvcore cannot trace quantised operators), on the inputs that module sees.
- `weight_bytes`: the bytes of the tensors inference reads, as a deployment stores them: an int8 value
  is 1 byte, plus a float32 scale and an int32 zero point (8 bytes) per tensor, or per output channel
  when quantised per channel; a float tensor (an int8 module's float bias included) is its element
  size per value (float32: 4). Not a file size: a pickle adds framing and names.

Both are rules of the leaf layer so that the bench's measurement and a method's own facts agree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from tradeoff_bench.core.flops import eval_mode

FLOAT_BITS = 32
"""Bits of a float32 weight or activation."""
QPARAM_BYTES = 8
"""A float32 scale and an int32 zero point, per quantised tensor or per output channel."""

MacCount = Callable[[nn.Module, Any], int]


def bit_operations(
    model: nn.Module, example_input: Any, count_macs: MacCount, *, cost_model: nn.Module | None = None
) -> tuple[int, int]:
    """(bit-operations, MACs) of one forward of `model` on `example_input`.

    `cost_model` is the float model a quantised `model` was converted from (same module names); its
    MACs are the model's. Modules of `model` holding int8 weights count their MACs at their weight
    bits x 8 activation bits; every other MAC at 32 x 32.
    """
    graph = cost_model if cost_model is not None else model
    macs = count_macs(graph, example_input)
    float_modules = dict(graph.named_modules())
    low = [(float_modules[name], bits) for name, bits in quantized_weight_bits(model).items() if name in float_modules]
    counted = module_macs(graph, [module for module, _ in low], example_input, count_macs)
    quantized_macs, bops = 0, 0
    for (_, bits), module_count in zip(low, counted):
        module_count = min(module_count, macs - quantized_macs)
        quantized_macs += module_count
        bops += module_count * bits * 8
    return bops + (macs - quantized_macs) * FLOAT_BITS * FLOAT_BITS, macs


def quantized_weight_bits(model: nn.Module) -> dict[str, int]:
    """Name -> weight bits of each module of `model` that holds quantised (int8) weights."""
    found = {}
    for name, module in model.named_modules():
        quantized = [t for t in int8_tensors(module) if t.is_quantized]
        if quantized:
            found[name] = 8 * quantized[0].element_size()
    return found


def weight_bytes(model: nn.Module) -> int:
    """Bytes of every stored tensor: int8 values at 1 byte + their qparams, float at their element size."""
    total = 0
    for module in model.modules():
        tensors = int8_tensors(module)
        if tensors:
            total += sum(tensor_bytes(t) for t in tensors)
            continue
        if type(module).__module__.startswith("torch.ao.nn.quantized") and hasattr(module, "_packed_params"):
            continue  # packed holder of a module counted above
        own = list(module.parameters(recurse=False)) + list(module.buffers(recurse=False))
        total += sum(tensor_bytes(t) for t in own)
    return total


def int8_tensors(module: nn.Module) -> list[torch.Tensor]:
    """The weights and biases of a quantised module (dynamic RNN, quantised Linear/Conv); else []."""
    if not type(module).__module__.startswith("torch.ao.nn."):
        return []
    get_weight, get_bias = getattr(module, "get_weight", None), getattr(module, "get_bias", None)
    if get_weight is not None and get_bias is not None:  # dynamic GRU / LSTM
        return [*get_weight().values(), *get_bias().values()]
    weight, bias = getattr(module, "weight", None), getattr(module, "bias", None)
    if callable(weight) and not isinstance(weight, torch.Tensor):
        tensors = [weight()]
        value = bias() if callable(bias) and not isinstance(bias, torch.Tensor) else None
        return tensors + ([value] if value is not None else [])
    return []


def tensor_bytes(tensor: torch.Tensor) -> int:
    """Stored bytes of one tensor: its values, plus qparams when it is quantised."""
    if not tensor.is_quantized:
        return tensor.numel() * tensor.element_size()
    scheme = tensor.qscheme()
    per_channel = scheme in (
        torch.per_channel_affine,
        torch.per_channel_symmetric,
        torch.per_channel_affine_float_qparams,
    )
    qparams = tensor.q_per_channel_scales().numel() if per_channel else 1
    return tensor.numel() * tensor.element_size() + qparams * QPARAM_BYTES


def module_macs(root: nn.Module, modules: list[nn.Module], example_input: Any, count_macs: MacCount) -> list[int]:
    """MACs of each of `modules` (0 for one that does not run) on the inputs it sees when `root` runs."""
    if not modules:
        return []
    inputs: dict[int, tuple[Any, ...]] = {}
    hooks = [m.register_forward_pre_hook(lambda m, args: inputs.setdefault(id(m), args) and None) for m in modules]
    try:
        with eval_mode(root), torch.no_grad():
            root(*(example_input if isinstance(example_input, tuple) else (example_input,)))
    finally:
        for hook in hooks:
            hook.remove()
    return [count_macs(m, inputs[id(m)]) if id(m) in inputs else 0 for m in modules]
