"""The ResNet and LCNN families of asvspoof2019: knobs, slicing consistency, MFM pairing, MAC counts."""

import pytest
import torch
from torch import nn

from tradeoff_bench.core.flops import count_macs
from tradeoff_bench.methods.slicing import copy_leading_channels
from tradeoff_bench.tasks.asvspoof import ASVspoofTask
from tradeoff_bench.tasks.asvspoof.models import PAPER_BLOCKS, MaxFeatureMap

# No corpus needed: models, knobs and example inputs depend on settings only.
RESNET = ASVspoofTask(n_fft=64, width_multiplier=0.25)
LCNN = ASVspoofTask(model="lcnn", features="lfcc", n_lfcc=8, width_multiplier=0.25)
FAMILIES = [pytest.param(RESNET, id="resnet"), pytest.param(LCNN, id="lcnn")]


class Mask(nn.Module):
    """A gate keeping the leading `keep` channels of its knob along `dim` and zeroing the rest."""

    def __init__(self, keep: int, dim: int) -> None:
        super().__init__()
        self.keep, self.dim = keep, dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = [1] * x.dim()
        shape[self.dim] = x.shape[self.dim]
        return x * (torch.arange(x.shape[self.dim]) < self.keep).to(x.dtype).view(shape)


def randomised(model: nn.Module) -> nn.Module:
    """Random BatchNorm statistics and affine parameters, so that slicing errors cannot hide."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.running_mean.normal_()
                module.running_var.uniform_(0.5, 2.0)
                module.weight.normal_()
                module.bias.normal_()
    return model.eval()


@pytest.mark.parametrize("task", FAMILIES)
def test_narrow_model_is_the_masked_full_model(task: ASVspoofTask) -> None:
    torch.manual_seed(0)
    widths = {knob: max(1, (3 * full) // 5) for knob, full in task.knobs.items()}
    masked = randomised(task.build_model(gate=lambda knob, width, dim: Mask(widths[knob], dim)))
    narrow = task.build_model(widths).eval()
    copy_leading_channels(masked, narrow)
    x = torch.randn(2, *task.example_input().shape[1:])
    with torch.no_grad():
        torch.testing.assert_close(narrow(x), masked(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("task", FAMILIES)
def test_each_knob_lowers_macs_and_parameter_names_stay(task: ASVspoofTask) -> None:
    full = task.build_model()
    names = [n for n, _ in full.named_parameters()] + [n for n, _ in full.named_buffers()]
    full_macs = count_macs(full, task.example_input())  # every operator is countable
    for knob, width in task.knobs.items():
        half = task.build_model({knob: max(1, width // 2)})
        assert [n for n, _ in half.named_parameters()] + [n for n, _ in half.named_buffers()] == names
        assert count_macs(half, task.example_input()) < full_macs, knob


def test_stage_width_shrinks_parameters_quadratically() -> None:
    models = {m: ASVspoofTask(width_multiplier=m).build_model() for m in (0.25, 0.5)}
    params = {m: sum(p.numel() for p in model.parameters()) for m, model in models.items()}
    assert 3.5 < params[0.5] / params[0.25] < 4.1  # the stage width, not only a block's inner width


def test_paper_scale_resnet34_has_the_papers_parameter_count() -> None:
    task = ASVspoofTask(width_multiplier=1.0, blocks=PAPER_BLOCKS, stem_stride=1, stem_pool=False)
    params = sum(p.numel() for p in task.build_model().parameters())
    assert 5.2e6 < params < 5.5e6  # the paper: 5.4 M
    assert task.knobs == {"stage1": 32, "stage2": 64, "stage3": 128, "stage4": 256}


def test_max_feature_map_pairs_neighbours_so_slicing_is_consistent() -> None:
    torch.manual_seed(0)
    full = nn.Conv2d(3, 8, 3, padding=1)  # MFM -> 4 channels
    narrow = nn.Conv2d(3, 4, 3, padding=1)  # MFM -> 2 channels: the full layer sliced
    with torch.no_grad():
        narrow.weight.copy_(full.weight[:4])
        narrow.bias.copy_(full.bias[:4])
    x = torch.randn(2, 3, 5, 7)
    mfm = MaxFeatureMap(1)
    torch.testing.assert_close(mfm(narrow(x)), mfm(full(x))[:, :2])
    y = full(x)
    torch.testing.assert_close(mfm(y)[:, 1], torch.maximum(y[:, 2], y[:, 3]))
    halves = torch.max(*torch.chunk(y, 2, dim=1))  # the usual MFM: pairs i with i + 4
    assert not torch.allclose(torch.max(*torch.chunk(narrow(x), 2, dim=1)), halves[:, :2])
    assert MaxFeatureMap(-1)(torch.tensor([[1.0, 3.0, 2.0, -1.0]])).tolist() == [[3.0, 2.0]]


@pytest.mark.slow
@pytest.mark.parametrize("task", FAMILIES)
def test_macs_are_a_polynomial_of_degree_two_in_the_knobs(task: ASVspoofTask) -> None:
    from tradeoff_bench.methods.dcl.complexity import fit_complexity

    model = fit_complexity(task, count_macs)  # raises if any check point disagrees
    assert model.full_macs == count_macs(task.build_model(), task.example_input())
