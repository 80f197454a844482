"""A Torch-Pruning layer pruner for `nn.GRU` and `nn.LSTM` that respects their stacked gate blocks.

Torch-Pruning's own `LSTMPruner` handles one layer only, slices `weight_ih` along the wrong axis and
has no GRU counterpart (`IndexError` on the 3·H / 4·H gate blocks). Here a hidden unit is removed
from every gate block of `weight_ih_l*`, `weight_hh_l*` and both biases, in *every* layer (a single
`hidden_size` is shared, so the same unit indices go in each layer) and from the columns that read
it: `weight_hh_l*` and the inputs of layers above the first. Input channels are the columns of
`weight_ih_l0`. Bidirectional RNNs and LSTM projections are refused with a clear error: their
output channels are not one index per hidden unit.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch_pruning.pruner.function import BasePruningFunc

_GATES = {"GRU": 3, "LSTM": 4, "RNN_TANH": 1, "RNN_RELU": 1}


class RNNPruner(BasePruningFunc):
    """Prune hidden units (out channels) or input features (in channels) of a GRU/LSTM/RNN."""

    TARGET_MODULES = (nn.RNNBase,)

    def prune_out_channels(self, layer: nn.RNNBase, idxs: Sequence[int]) -> nn.Module:
        _check_supported(layer)
        hidden, gates = layer.hidden_size, _GATES[layer.mode]
        keep = kept_indices(hidden, idxs)
        rows = torch.cat([keep + g * hidden for g in range(gates)])
        for k in range(layer.num_layers):
            _slice(layer, f"weight_ih_l{k}", rows, 0)
            if k > 0:
                _slice(layer, f"weight_ih_l{k}", keep, 1)
            _slice(layer, f"weight_hh_l{k}", rows, 0)
            _slice(layer, f"weight_hh_l{k}", keep, 1)
            if layer.bias:
                _slice(layer, f"bias_ih_l{k}", rows, 0)
                _slice(layer, f"bias_hh_l{k}", rows, 0)
        layer.hidden_size = len(keep)
        return layer

    def prune_in_channels(self, layer: nn.RNNBase, idxs: Sequence[int]) -> nn.Module:
        _check_supported(layer)
        keep = kept_indices(layer.input_size, idxs)
        _slice(layer, "weight_ih_l0", keep, 1)
        layer.input_size = len(keep)
        return layer

    def get_out_channels(self, layer: nn.RNNBase) -> int:
        return layer.hidden_size

    def get_in_channels(self, layer: nn.RNNBase) -> int:
        return layer.input_size


def rnn_pruners() -> dict[type, BasePruningFunc]:
    """`customized_pruners` for `tp.DependencyGraph.build_dependency` covering every RNN type."""
    pruner = RNNPruner()
    return {nn.GRU: pruner, nn.LSTM: pruner, nn.RNN: pruner}


def _check_supported(layer: nn.RNNBase) -> None:
    if layer.bidirectional or layer.proj_size:
        raise NotImplementedError(
            f"cannot prune {type(layer).__name__} with bidirectional={layer.bidirectional}, "
            f"proj_size={layer.proj_size}: only unidirectional RNNs without projection are supported"
        )


def kept_indices(size: int, idxs: Sequence[int]) -> torch.Tensor:
    """The indices in [0, size) not in `idxs` (an IndexError for one out of range)."""
    drop = {int(i) for i in idxs}
    if any(not 0 <= i < size for i in drop):
        raise IndexError(f"pruning indices {sorted(drop)} out of range [0, {size})")
    return torch.tensor([i for i in range(size) if i not in drop], dtype=torch.long)


def _slice(layer: nn.RNNBase, name: str, keep: torch.Tensor, dim: int) -> None:
    old = getattr(layer, name)
    new = nn.Parameter(old.data.index_select(dim, keep.to(old.device)).clone(), requires_grad=old.requires_grad)
    setattr(layer, name, new)  # RNNBase.__setattr__ keeps `_flat_weights` in step
