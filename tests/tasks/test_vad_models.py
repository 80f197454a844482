"""VAD model families: the mel knob, MAC counts per second of audio, and the slicing contract."""

import pytest
import torch
from torch import nn

from tradeoff_bench.core.flops import count_macs
from tradeoff_bench.methods.dcl.complexity import fit_complexity
from tradeoff_bench.methods.slicing import copy_leading_channels
from tradeoff_bench.tasks.vad.features import N_FREQ, mel_filterbank, power_spectrogram
from tradeoff_bench.tasks.vad.models import ATTENTION_FRAMES
from tradeoff_bench.tasks.vad.task import VadTask

FAMILIES = {
    "crnn": {"model": "crnn", "conv": 12, "gru": 10},
    "transformer": {"model": "transformer", "d_model": 12, "ffn": 16, "layers": 2},
}


def task_of(family: str, **settings: object) -> VadTask:
    return VadTask(**FAMILIES[family], **settings)  # models only: no data is read


def test_mel_knob_keeps_the_lowest_bands_of_the_80_band_filterbank() -> None:
    task = task_of("crnn")
    full, narrow = task.build_model().logmel.filterbank, task.build_model({"mels": 20}).logmel.filterbank
    assert full.shape == (N_FREQ, 80) and torch.equal(full, mel_filterbank())
    assert torch.equal(narrow, full[:, :20])
    assert "logmel.filterbank" in dict(task.build_model().named_buffers())


@pytest.mark.parametrize("family", FAMILIES)
def test_example_input_is_one_second_and_macs_are_per_second(family: str) -> None:
    task = task_of(family)
    x = task.example_input()
    assert x.shape == (1, N_FREQ, 100) and task.cost_unit == "second of audio"
    assert task.build_model().eval()(x).shape == (1, 100)
    macs = count_macs(task.build_model(), x)
    mel_projection = N_FREQ * 80 * 100
    assert macs > mel_projection  # the mel filterbank product is counted inside the model


@pytest.mark.parametrize("family", FAMILIES)
def test_macs_fall_as_each_knob_falls(family: str) -> None:
    task = task_of(family)
    x = task.example_input()
    full = count_macs(task.build_model(), x)
    for knob, width in task.knobs.items():
        counts = [count_macs(task.build_model({knob: w}), x) for w in (width, width // 2, 1)]
        assert counts[0] == full and counts[0] > counts[1] > counts[2], (knob, counts)


@pytest.mark.parametrize("family", FAMILIES)
def test_macs_are_a_polynomial_of_degree_two_in_the_widths(family: str) -> None:
    task = task_of(family)
    model = fit_complexity(task, count_macs)  # fits exactly and verifies at further widths
    assert model.exact(task.knobs) == count_macs(task.build_model(), task.example_input())


class _Truncate(nn.Module):
    """Keeps channels [0, keep) of a knob, as a DCL does at evaluation."""

    def __init__(self, keep: int, width: int, dim: int) -> None:
        super().__init__()
        self.keep, self.width, self.dim = keep, width, dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = [1] * x.dim()
        shape[self.dim] = self.width
        return x * (torch.arange(self.width) < self.keep).to(x.dtype).view(shape)


@pytest.mark.parametrize(
    ("family", "knob", "keep"),
    [
        ("crnn", "mels", 30),
        ("crnn", "conv", 5),
        ("crnn", "gru", 4),
        ("transformer", "mels", 30),
        ("transformer", "d_model", 5),
        ("transformer", "ffn", 7),
    ],
)
def test_full_model_with_truncated_channels_is_the_sliced_model(family: str, knob: str, keep: int) -> None:
    """The slicing contract, and what DCL extraction relies on (the GRU's gate acts inside its recurrence)."""
    task = task_of(family)
    torch.manual_seed(0)
    full = task.build_model(gate=lambda k, width, dim: _Truncate(keep if k == knob else width, width, dim))
    for module in full.modules():  # non-trivial normalisation statistics
        if isinstance(module, nn.BatchNorm1d):
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2)
    narrow = task.build_model({knob: keep})
    copy_leading_channels(full, narrow)
    x = power_spectrogram(torch.randn(2, 16_000 * 2) * 0.1)
    with torch.no_grad():
        torch.testing.assert_close(narrow.eval()(x), full.eval()(x), rtol=1e-4, atol=1e-4)


def test_transformer_attends_within_one_second_windows_at_any_length() -> None:
    model = task_of("transformer").build_model().eval()
    block = model.blocks[0]
    x = torch.randn(2, 150, 12)
    with torch.no_grad():
        out = block._attend(x)
        for window in (slice(0, ATTENTION_FRAMES), slice(ATTENTION_FRAMES, 150)):  # the last one is partial
            part = x[:, window]
            q, k, v = block.query(part) * block.scale, block.key(part), block.value(part)
            expected = torch.softmax(q @ k.transpose(1, 2), dim=-1) @ v
            torch.testing.assert_close(out[:, window], expected, rtol=1e-5, atol=1e-5)
        assert model(power_spectrogram(torch.randn(2, 160 * 250) * 0.1)).shape == (2, 250)


def test_parameter_names_do_not_depend_on_widths() -> None:
    for family in FAMILIES:
        task = task_of(family)
        names = [n for n, _ in task.build_model().named_parameters()]
        assert names == [n for n, _ in task.build_model({k: 1 for k in task.knobs}).named_parameters()]
