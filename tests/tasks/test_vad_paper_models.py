"""The paper's VAD families (arXiv 2601.13704, VAD table): parameter counts, cost fall, slicing."""

import pytest
import torch

from tests.tasks.test_vad_models import _Truncate
from tradeoff_bench.core.flops import count_macs
from tradeoff_bench.methods.dcl.complexity import fit_complexity
from tradeoff_bench.methods.slicing import copy_leading_channels
from tradeoff_bench.tasks.vad.features import power_spectrogram
from tradeoff_bench.tasks.vad.task import VadTask

PAPER_PARAMS = {
    "paper-crnn": {80: 673_873, 40: 664_512, 20: 659_714, 12: 657_794},
    "paper-transformer": {80: 138_082, 40: 35_442, 20: 9_322, 24: 13_202},
}
"""Published parameter counts per number of mel bands (the transformer's SG row has 24 bands)."""
PAPER_COST = {"paper-crnn": {80: 2.25, 40: 1.18, 20: 0.64, 12: 0.42}}
"""Published "MFLOP/s" per number of mel bands: only their ratios are comparable."""


def _params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("family", PAPER_PARAMS)
def test_parameter_counts_are_within_one_percent_of_the_papers(family: str) -> None:
    for bands, published in PAPER_PARAMS[family].items():
        count = _params(VadTask(model=family, mels=bands).build_model())
        assert abs(count / published - 1) <= 0.01, (family, bands, count, published)


def test_the_transformer_count_is_exactly_the_papers_polynomial() -> None:
    for bands in (12, 20, 24, 40, 80):
        assert _params(VadTask(model="paper-transformer", mels=bands).build_model()) == 21 * bands**2 + 46 * bands + 2


def test_crnn_macs_fall_with_the_bands_in_the_papers_proportions() -> None:
    x = VadTask().example_input()
    macs = {bands: count_macs(VadTask(model="paper-crnn", mels=bands).build_model(), x) for bands in (80, 40, 20, 12)}
    cost = PAPER_COST["paper-crnn"]
    for bands in (40, 20, 12):
        assert abs(macs[bands] / macs[80] - cost[bands] / cost[80]) <= 0.01, (bands, macs[bands] / macs[80])


@pytest.mark.parametrize(
    ("family", "knob", "keep"),
    [("paper-crnn", "mels", 5), ("paper-crnn", "conv", 3), ("paper-crnn", "gru", 4), ("paper-transformer", "mels", 5)],
)
def test_full_model_with_truncated_channels_is_the_sliced_model(family: str, knob: str, keep: int) -> None:
    task = VadTask(model=family, mels=12, paper_width=1 / 20)
    torch.manual_seed(0)

    def truncate(name: str, width: int, dim: int) -> torch.nn.Module:
        return _Truncate(keep if name == knob else width, width, dim)

    full = task.build_model(gate=truncate)
    for module in full.modules():  # non-trivial normalisation statistics
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2)
    narrow = task.build_model({knob: keep})
    copy_leading_channels(full, narrow)
    x = power_spectrogram(torch.randn(2, 16_000) * 0.1)
    with torch.no_grad():
        torch.testing.assert_close(narrow.eval()(x), full.eval()(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("family", PAPER_PARAMS)
def test_macs_are_a_polynomial_of_degree_two_in_the_widths(family: str) -> None:
    task = VadTask(model=family, mels=12, paper_width=1 / 20)
    model = fit_complexity(task, count_macs)
    assert model.exact(task.knobs) == count_macs(task.build_model(), task.example_input())
