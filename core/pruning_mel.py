"""A Torch-Pruning layer pruner for torchaudio's `MelScale`: its mel bands are output channels.

`MelScale` multiplies a spectrogram (..., freq, time) by a fixed filterbank buffer `fb` (freq, mels),
so a band is a column of `fb` and channel axis -2 of its output, as a Conv1d's. Torch-Pruning knows
no layer without weights, so without this pruner the bands of a model's front end are not a group
and a model that starts from a mel filterbank has no knob on them. A frequency bin (an input
channel) is a row of `fb`.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch_pruning.pruner.function import BasePruningFunc
from torchaudio.transforms import MelScale

from tradeoff_bench.core.pruning_rnn import kept_indices


class MelScalePruner(BasePruningFunc):
    """Remove mel bands (out channels) or frequency bins (in channels) of a `MelScale`."""

    TARGET_MODULES = (MelScale,)

    def prune_out_channels(self, layer: MelScale, idxs: Sequence[int]) -> MelScale:
        layer.fb = layer.fb.index_select(1, kept_indices(layer.fb.shape[1], idxs)).contiguous()
        layer.n_mels = layer.fb.shape[1]
        return layer

    def prune_in_channels(self, layer: MelScale, idxs: Sequence[int]) -> MelScale:
        layer.fb = layer.fb.index_select(0, kept_indices(layer.fb.shape[0], idxs)).contiguous()
        return layer

    def get_out_channels(self, layer: MelScale) -> int:
        return layer.fb.shape[1]

    def get_in_channels(self, layer: MelScale) -> int:
        return layer.fb.shape[0]


def mel_pruners() -> dict[type, BasePruningFunc]:
    """`customized_pruners` for `tp.DependencyGraph.build_dependency` covering `MelScale`."""
    return {MelScale: MelScalePruner()}
