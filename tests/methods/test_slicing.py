import pytest
import torch
from torch import nn

from tradeoff_bench.methods.slicing import copy_leading_channels, extract, leading_slices
from tradeoff_bench.tasks.synthetic import SyntheticTask

SMALL = {"n_train": 64, "n_val": 16, "n_test": 32}


@pytest.mark.parametrize(("rnn", "gates"), [(nn.GRU, 3), (nn.LSTM, 4), (nn.RNN, 1)])
def test_rnn_tensors_are_sliced_per_gate_block(rnn: type[nn.RNNBase], gates: int) -> None:
    src, dst = rnn(8, 16, num_layers=2, bidirectional=True), rnn(5, 10, num_layers=2, bidirectional=True)
    copy_leading_channels(src, dst)
    for suffix in ("l0", "l1_reverse"):
        wide, narrow = getattr(src, f"weight_ih_{suffix}"), getattr(dst, f"weight_ih_{suffix}")
        expected = wide.unflatten(0, (gates, 16))[:, :10, : narrow.shape[1]].flatten(0, 1)
        assert torch.equal(narrow, expected)
        hh = getattr(src, f"weight_hh_{suffix}").unflatten(0, (gates, 16))[:, :10, :10].flatten(0, 1)
        assert torch.equal(getattr(dst, f"weight_hh_{suffix}"), hh)
        bias = getattr(src, f"bias_hh_{suffix}").unflatten(0, (gates, 16))[:, :10].flatten()
        assert torch.equal(getattr(dst, f"bias_hh_{suffix}"), bias)


def test_gru_with_zeroed_extra_units_matches_its_extraction() -> None:
    """Units whose every weight is zero stay zero, so the narrow GRU computes the same outputs."""
    src, dst = nn.GRU(6, 12, batch_first=True), nn.GRU(4, 7, batch_first=True)
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(src, name).unflatten(0, (3, 12))[:, 7:] = 0
        src.weight_hh_l0[:, 7:] = 0
        src.weight_ih_l0[:, 4:] = 0
    copy_leading_channels(src, dst)
    x = torch.randn(2, 5, 6)
    x[..., 4:] = 0
    assert torch.allclose(src(x)[0][..., :7], dst(x[..., :4])[0], atol=1e-6)


def test_attention_in_projection_is_sliced_per_q_k_v() -> None:
    src, dst = nn.MultiheadAttention(16, 1), nn.MultiheadAttention(6, 1)
    copy_leading_channels(src, dst)
    expected = src.in_proj_weight.unflatten(0, (3, 16))[:, :6, :6].flatten(0, 1)
    assert torch.equal(dst.in_proj_weight, expected)
    assert torch.equal(dst.in_proj_bias, src.in_proj_bias.unflatten(0, (3, 16))[:, :6].flatten())
    assert torch.equal(dst.out_proj.weight, src.out_proj.weight[:6, :6])


def test_names_only_in_the_source_are_ignored_and_missing_or_wider_ones_fail() -> None:
    src = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8))
    src.add_module("gate", nn.Linear(8, 8))  # a gate's own tensors: not in the narrow model
    dst = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    copy_leading_channels(src, dst)
    assert torch.equal(dst[1].running_var, src[1].running_var[:3])
    with pytest.raises(KeyError, match="2.weight, 2.bias"):
        copy_leading_channels(dst, nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 3)))
    with pytest.raises(ValueError, match="cannot slice '0.weight'"):
        copy_leading_channels(nn.Sequential(nn.Linear(4, 2)), nn.Sequential(nn.Linear(4, 3)))


@pytest.mark.parametrize("model", ["mlp", "conv"])
def test_extracted_model_equals_the_full_one_with_extra_channels_cut(model: str) -> None:
    task = SyntheticTask(model=model, depth=2, **SMALL)
    full = task.build_model()
    widths = {"hidden1": 5, "hidden2": 9}
    with torch.no_grad():  # cut channels >= width where they are consumed
        full[3].weight[:, 5:] = 0
        full[6].weight[:, 9:] = 0
    narrow = extract(task, full, widths)
    assert narrow[0].weight.shape[0] == 5 and narrow[3].weight.shape[:2] == (9, 5)
    x = task._data["test"][0]
    with torch.no_grad():
        assert torch.allclose(narrow(x), full.eval()(x), atol=1e-6)
    assert not narrow.training


def test_extract_leaves_the_global_rng_alone() -> None:
    task = SyntheticTask(**SMALL)
    full = task.build_model()
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    extract(task, full, {"hidden1": 3})
    assert torch.equal(torch.rand(1), expected)


def test_leading_slices_are_differentiable_with_respect_to_the_wide_tensors() -> None:
    wide, narrow = nn.GRU(6, 8), nn.GRU(6, 5)
    slices = leading_slices(dict(wide.named_parameters()), narrow, buffers=False)
    out = torch.func.functional_call(narrow, slices, (torch.randn(4, 2, 6),))[0]
    out.sum().backward()
    grad = wide.weight_hh_l0.grad.unflatten(0, (3, 8))
    assert grad[:, :5, :5].abs().sum() > 0 and torch.equal(grad[:, 5:], torch.zeros(3, 3, 8))
