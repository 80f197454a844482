"""MACs of a model on one example input, counted by fvcore with a handle for every operator.

fvcore traces the model (`torch.jit`) and sums a handle per traced operator. It counts one
multiply-add as one "flop"; we call that unit a MAC. A model that runs any operator that has neither
a handle nor a place on the zero-MAC allowlist is an error (`UnsupportedOperatorError`), never a
silent under-count. The model is traced in eval mode under `no_grad`, the way it is deployed, so
fused inference kernels (e.g. `nn.MultiheadAttention`'s fast path) are what gets counted.

What each family counts (B batch, T steps, L/S query/key length, E/Ev query/value width):
- matrix products: `linear`, `addmm`, `mm`, `bmm` (fvcore), `matmul` (broadcast-aware: output
  elements x inner size), `baddbmm`, `addbmm`, `mv`, `addmv`, `dot`, `einsum` (fvcore, via numpy's
  contraction cost / 2): one MAC per multiply-add; bias and `beta*self` additions count 0.
- convolutions: `_convolution` (fvcore; also transposed) and `_convolution_mode` (string padding):
  batch x prod(weight shape) x output positions (input positions if transposed). Groups are in the
  weight shape; bias counts 0.
- recurrent layers: `gru`, `lstm`, `rnn_tanh`, `rnn_relu`, padded or packed, any num_layers,
  bidirectional, batch_first, LSTM proj_size, with or without an initial state: every weight matrix
  is applied once per step, so per step, layer and direction gates*H*(input_size + H) with gates
  3/4/1 (input_size = H*directions above the first layer; with proj_size P, LSTM adds P*H and uses
  P for the recurrent and inter-layer inputs). Biases and gate arithmetic count 0.
- attention: `scaled_dot_product_attention`: Q.K^T + weights.V = B*H*L*S*(E + Ev), dense (masks and
  is_causal do not reduce it). `_native_multi_head_attention` (MHA's eval fast path): the q/k/v
  in-projections, scores, weighted sum and out-projection, the same as its decomposed slow path.
  (TransformerEncoderLayer's own fused fast path is never traced: it refuses modules with hooks,
  and fvcore hooks every module, so the layer runs decomposed, with MHA's fast path inside.)
- normalisation (fvcore): `batch_norm` in eval 2 per element with affine, 1 without (training
  statistics 5/4); `layer_norm`, `group_norm` 5 per element with affine, 4 without; `instance_norm`
  5/4 likewise.
- resampling: `upsample_nearest1d/2d/3d` 1 per output element, `upsample_linear1d` 2,
  `upsample_bilinear2d` 4 (fvcore), `upsample_trilinear3d` 8; `grid_sampler` 4 per output (fvcore).
- average pooling (`avg_pool1d/2d/3d`, `adaptive_avg_pool1d/2d/3d`): 1 per input element, the
  convention fvcore uses for `adaptive_avg_pool2d`. Max pooling is comparisons: 0.
- `ZERO_MAC_OPS`: everything else a model may legitimately run at 0 MACs (elementwise arithmetic,
  activations, reductions, shape and copy operations, max pooling). It contains fvcore's own ignore
  list, so nothing is ignored that is not listed here.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from tradeoff_bench.core.errors import UserError

Handle = Callable[[list[Any], list[Any]], "int | Counter[str]"]
"""fvcore's handle signature: (traced input values, traced output values) -> MACs."""

Inputs = torch.Tensor | tuple[Any, ...]


class UnsupportedOperatorError(UserError, ValueError):
    """The model runs operators whose MACs this counter does not know."""

    def __init__(self, ops: Mapping[str, int]) -> None:
        self.ops = dict(sorted(ops.items()))
        listing = ", ".join(f"{op} ({n}x)" for op, n in self.ops.items())
        super().__init__(
            f"Cannot count MACs of unsupported operator(s): {listing}. Add a handle "
            "(inputs, outputs) -> MACs for each to core.flops.HANDLES (see fvcore.nn.jit_handles), "
            "or add it to core.flops.ZERO_MAC_OPS if it performs no multiply-adds "
            "(count_macs(..., extra_handles={name: handle_or_None}) for a one-off)."
        )


def _zero_mac_ops() -> frozenset[str]:
    elementwise = (
        "add sub rsub mul div true_divide neg reciprocal pow square sqrt rsqrt exp exp2 expm1 log "
        "log1p log2 log10 abs sign sgn clamp clamp_min clamp_max clip floor ceil round trunc frac "
        "fmod remainder floor_divide maximum minimum where lerp addcmul addcdiv sin cos "
        "eq ne lt le gt ge logical_and logical_or logical_not logical_xor bitwise_not bitwise_and "
        "bitwise_or __and__ __or__ __xor__ isnan isinf isfinite masked_fill fill zero"
    )
    activations = (
        "relu relu6 leaky_relu elu selu celu gelu silu mish sigmoid tanh hardtanh hardsigmoid "
        "hardswish softplus softsign prelu glu softmax _softmax log_softmax _log_softmax "
        "logsigmoid threshold hardshrink softshrink tanhshrink "
        "dropout feature_dropout alpha_dropout feature_alpha_dropout native_dropout"
    )
    reductions = "mean sum max min amax amin argmax argmin std var all any logsumexp"
    max_pooling = (
        "max_pool1d max_pool2d max_pool3d max_pool1d_with_indices max_pool2d_with_indices "
        "max_pool3d_with_indices adaptive_max_pool1d adaptive_max_pool2d adaptive_max_pool3d"
    )
    shape_and_copy = (
        "view view_as reshape reshape_as flatten unflatten transpose t numpy_T permute movedim "
        "swapaxes contiguous clone detach alias lift_fresh to type_as copy slice select index "
        "index_select index_put gather scatter narrow cat concat stack chunk unsafe_chunk split "
        "split_with_sizes unsafe_split unbind unsqueeze squeeze expand expand_as repeat "
        "repeat_interleave tile flip roll unfold triu tril pad constant_pad_nd reflection_pad1d "
        "reflection_pad2d replication_pad1d replication_pad2d embedding nonzero "
        "_pack_padded_sequence _pad_packed_sequence "
        "zeros zeros_like ones ones_like full full_like empty empty_like new_zeros new_ones "
        "new_full new_empty arange scalar_tensor size numel dim Int Float Bool ScalarImplicit"
    )
    names = " ".join((elementwise, activations, reductions, max_pooling, shape_and_copy)).split()
    # Every operator with its in-place variant (add_, relu_, masked_fill_, ...).
    return frozenset(f"aten::{name}{suffix}" for name in names for suffix in ("", "_"))


ZERO_MAC_OPS: frozenset[str] = _zero_mac_ops()
"""Operators that cost 0 MACs: elementwise arithmetic and comparisons, activations and dropout,
reductions, max pooling, shape/indexing/copy/creation operators; each with its in-place variant."""


def count_macs(
    model: nn.Module,
    example_input: Inputs,
    *,
    sparse: bool = False,
    extra_handles: Mapping[str, Handle | None] | None = None,
) -> int:
    """Total MACs of one forward of `model` on `example_input` (eval mode, no_grad).

    `sparse=True` counts what sparse kernels would run: the MACs of each Linear, convolution and
    recurrent layer scaled by the nonzero share of its weight matrices (each matrix of a recurrent
    layer is applied once per step, so the layer's share is exact), other operators as counted.
    """
    by_operator, by_module = _analyse(model, example_input, extra_handles, by_module=sparse)
    total = sum(by_operator.values())
    if not sparse:
        return total
    saved = 0.0
    for name, module in model.named_modules():
        matrices = _weight_matrices(module)
        if matrices and by_module.get(name):
            zeros = sum(int(w.numel() - torch.count_nonzero(w)) for w in matrices)
            saved += by_module[name] * zeros / sum(w.numel() for w in matrices)
    return total - round(saved)


def mac_breakdown(
    model: nn.Module, example_input: Inputs, *, extra_handles: Mapping[str, Handle | None] | None = None
) -> dict[str, int]:
    """MACs by operator (fvcore's short names: 'linear', 'conv', 'gru', ...), sorted by name.

    `extra_handles` adds or overrides handles for this call; None marks an operator as 0 MACs.
    """
    return _analyse(model, example_input, extra_handles, by_module=False)[0]


def _analyse(
    model: nn.Module, example_input: Inputs, extra_handles: Mapping[str, Handle | None] | None, *, by_module: bool
) -> tuple[dict[str, int], dict[str, int]]:
    """(MACs by operator, MACs by module name: empty unless `by_module`) of one traced forward."""
    from fvcore.nn import FlopCountAnalysis

    with eval_mode(model), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and deprecation warnings: counting is quiet
        analysis = FlopCountAnalysis(model, example_input)
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        analysis.set_op_handle(**dict.fromkeys(ZERO_MAC_OPS))
        analysis.set_op_handle(**HANDLES)
        analysis.set_op_handle(**dict(extra_handles or {}))
        by_operator = analysis.by_operator()
        modules = analysis.by_module() if by_module else {}
        unsupported = analysis.unsupported_ops()
    if unsupported:
        raise UnsupportedOperatorError(unsupported)
    operators = {op: int(macs) for op, macs in sorted(by_operator.items())}
    return operators, {name: int(macs) for name, macs in modules.items()}


def _weight_matrices(module: nn.Module) -> list[torch.Tensor]:
    """The weights whose zeros sparse kernels skip: a Linear's or convolution's, an RNN's `weight_*`."""
    if isinstance(module, (nn.Linear, nn.modules.conv._ConvNd)):
        return [module.weight]
    if isinstance(module, nn.RNNBase):
        return [p for name, p in module.named_parameters(recurse=False) if name.startswith("weight_")]
    return []


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """`model` in eval mode; afterwards every submodule gets back its own train/eval flag."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training


# --- handles ----------------------------------------------------------------------------------
def _shape(value: Any) -> list[int]:
    if not value.isCompleteTensor():
        raise ValueError(f"Traced value {value.debugName()!r} has no known shape; cannot count its MACs")
    return list(value.type().sizes())


def _list_shapes(value: Any) -> list[list[int]]:
    node = value.node()
    if node.kind() != "prim::ListConstruct":
        raise ValueError(f"Expected a traced tensor list, got {node.kind()}; cannot count its MACs")
    return [_shape(item) for item in node.inputs()]


def _matmul(inputs: list[Any], outputs: list[Any]) -> int:
    """`a @ b` with broadcasting: each output element is one dot product over a's last dim."""
    return math.prod(_shape(outputs[0])) * _shape(inputs[0])[-1]


def _batch_product(batch1: int, batch2: int) -> Handle:
    """baddbmm/addbmm: (b, n, m) x (b, m, p) -> b*n*m*p; the added `self` counts 0."""

    def handle(inputs: list[Any], outputs: list[Any]) -> int:
        return math.prod(_shape(inputs[batch1])) * _shape(inputs[batch2])[-1]

    return handle


def _matrix_vector(matrix: int) -> Handle:
    """mv/addmv/dot: one MAC per element of the matrix (or vector) operand."""

    def handle(inputs: list[Any], outputs: list[Any]) -> int:
        return math.prod(_shape(inputs[matrix]))

    return handle


def _conv_mode(inputs: list[Any], outputs: list[Any]) -> Counter[str]:
    """`_convolution_mode` (padding='same'/'valid'), counted like fvcore's `_convolution`."""
    from fvcore.nn.jit_handles import conv_flop_count

    x, w, out = _shape(inputs[0]), _shape(inputs[1]), _shape(outputs[0])
    if len(x) == len(w) - 1:  # unbatched input
        x, out = [1, *x], [1, *out]
    return Counter({"conv": int(conv_flop_count(x, w, out))})


def _rnn(inputs: list[Any], outputs: list[Any]) -> int:
    """gru/lstm/rnn_*: each weight matrix is applied once per (step, layer, direction).

    Padded overloads end with (params, has_biases, num_layers, dropout, train, bidirectional,
    batch_first); packed ones lack batch_first and their data is (total steps, features). In both,
    the steps are the product of the input's leading dims (T*B in either layout, or the packed rows).
    """
    params_at = max(i for i, v in enumerate(inputs) if v.type().kind() == "ListType")
    weights = _list_shapes(inputs[params_at])
    has_biases, num_layers = inputs[params_at + 1].toIValue(), inputs[params_at + 2].toIValue()
    directions = 2 if inputs[params_at + 5].toIValue() else 1
    matrices = [w for w in weights if len(w) == 2]
    cells = num_layers * directions
    if len(matrices) not in (2 * cells, 3 * cells) or len(weights) != len(matrices) + 2 * cells * has_biases:
        raise ValueError(f"Unexpected recurrent weight layout {weights} for {cells} layer-directions")
    steps = math.prod(_shape(inputs[0])[:-1])
    return steps * sum(rows * cols for rows, cols in matrices)


def _sdpa(inputs: list[Any], outputs: list[Any]) -> int:
    """Q.K^T over (..., L, E) x (..., S, E) plus weights.V into (..., L, Ev), broadcast/GQA-aware."""
    out, query, key = _shape(outputs[0]), _shape(inputs[0]), _shape(inputs[1])
    return math.prod(out[:-1]) * key[-2] * query[-1] + math.prod(out) * key[-2]


def _attention_core(query: list[int], key: list[int]) -> int:
    """Scores and weighted sum of multi-head attention over all heads: 2*B*L*S*E."""
    return 2 * math.prod(query) * key[-2]


def _native_mha(inputs: list[Any], outputs: list[Any]) -> int:
    """(query, key, value, embed_dim, num_heads, qkv_weight, qkv_bias, proj_weight, proj_bias, ...)."""
    query, key, value = (_shape(v) for v in inputs[:3])
    qkv_weight, proj_weight = _shape(inputs[5]), _shape(inputs[7])
    per_projection = math.prod(qkv_weight) // 3  # q, k and v each have an (E, E) matrix
    tokens = [math.prod(s[:-1]) for s in (query, key, value)]
    return sum(tokens) * per_projection + _attention_core(query, key) + tokens[0] * math.prod(proj_weight)


def _elementwise(input_scale: int, output_scale: int) -> Handle:
    def handle(inputs: list[Any], outputs: list[Any]) -> int:
        return input_scale * math.prod(_shape(inputs[0])) + output_scale * math.prod(_shape(outputs[0]))

    return handle


def _einsum(inputs: list[Any], outputs: list[Any]) -> int:
    from fvcore.nn.jit_handles import einsum_flop_jit

    return int(einsum_flop_jit(inputs, outputs))


HANDLES: dict[str, Handle] = {
    "aten::matmul": _matmul,
    "aten::einsum": _einsum,
    "aten::baddbmm": _batch_product(1, 2),
    "aten::addbmm": _batch_product(1, 2),
    "aten::mv": _matrix_vector(0),
    "aten::addmv": _matrix_vector(1),
    "aten::dot": _matrix_vector(0),
    "aten::_convolution_mode": _conv_mode,
    "aten::gru": _rnn,
    "aten::lstm": _rnn,
    "aten::rnn_tanh": _rnn,
    "aten::rnn_relu": _rnn,
    "aten::scaled_dot_product_attention": _sdpa,
    "aten::_native_multi_head_attention": _native_mha,
    "aten::upsample_nearest1d": _elementwise(0, 1),
    "aten::upsample_nearest3d": _elementwise(0, 1),
    "aten::upsample_linear1d": _elementwise(0, 2),
    "aten::upsample_trilinear3d": _elementwise(0, 8),
    **{
        f"aten::{pool}": _elementwise(1, 0)
        for pool in ("avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool3d")
    },
}
"""Handles added to (or replacing, for matmul and einsum) fvcore's defaults."""
