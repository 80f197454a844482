import math

import pytest
import torch

from tradeoff_bench.methods.dcl.layer import DCLGates, DynamicComplexityLayer


def layer_at(k: float, width: int = 8, dim: int = -1) -> DynamicComplexityLayer:
    layer = DynamicComplexityLayer(width, dim, kappa_min=0.1)
    with torch.no_grad():
        layer.kappa.fill_(k / width)
    return layer


@pytest.mark.parametrize("kappa_min", [0.0, -0.5, 1.5, math.nan])
def test_kappa_min_outside_the_unit_interval_is_rejected(kappa_min: float) -> None:
    with pytest.raises(ValueError, match="kappa_min"):
        DynamicComplexityLayer(8, -1, kappa_min)
    with pytest.raises(ValueError, match="kappa_min"):
        DCLGates(kappa_min)


def test_training_passes_leading_channels_blends_one_and_zeros_the_rest() -> None:
    layer = layer_at(5.25).train()
    x = torch.randn(4096, 8) * 3 + 1
    out = layer(x)
    assert torch.equal(out[:, :5], x[:, :5])
    assert torch.equal(out[:, 6:], torch.zeros(4096, 2))
    sigma = x[:, 5].var(unbiased=False).sqrt()  # first update of a channel: its batch statistic
    assert layer.running_var[5].sqrt() == pytest.approx(sigma.item(), rel=1e-5)
    noise = (out[:, 5] - 0.25**0.5 * x[:, 5]) / (0.75**0.5 * sigma)
    assert abs(noise.mean().item()) < 0.1 and noise.std().item() == pytest.approx(1, abs=0.05)
    assert abs(torch.corrcoef(torch.stack([noise, x[:, 5]]))[0, 1].item()) < 0.1


def test_blended_channel_keeps_the_channel_variance_at_every_blend() -> None:
    """√λ·ξ + √(1−λ)·σ·ν: the information moves with K while the scale does not."""
    x = torch.randn(20000, 8)
    for k in (3.0, 3.1, 3.5, 3.9):
        out = layer_at(k).train()(x)
        assert out[:, 3].var().item() == pytest.approx(1.0, abs=0.05)


def test_noise_is_drawn_for_the_blended_channel_only() -> None:
    x = torch.randn(32, 8, 10)
    layer = layer_at(4.5, dim=1).train()
    torch.manual_seed(0)
    layer(x)
    after_layer = torch.rand(1)
    torch.manual_seed(0)
    torch.randn(32, 10)
    assert torch.equal(torch.rand(1), after_layer)


def test_only_the_blended_channel_updates_its_running_statistics() -> None:
    """A cumulative mean over the first 1/momentum updates, then a moving average (momentum 0.1)."""
    layer = layer_at(2.5).train()
    batches = [torch.randn(64, 8) * (1 + i % 3) for i in range(12)]
    variances = [batch[:, 2].var(unbiased=False) for batch in batches]
    expected = torch.tensor(0.0)
    for i, batch in enumerate(batches):
        layer(batch)
        expected = torch.lerp(expected, variances[i], max(0.1, 1 / (i + 1)))
        if i == 1:
            assert layer.running_var[2].item() == pytest.approx((variances[0] + variances[1]).item() / 2, rel=1e-5)
    assert layer.running_var[2].item() == pytest.approx(expected.item(), rel=1e-5)
    assert layer.updates == [0, 0, 12, 0, 0, 0, 0, 0]
    assert torch.equal(layer.running_var[[0, 1, 3]], torch.ones(3))


def test_eval_truncates_at_the_ceiling_without_noise() -> None:
    layer = layer_at(5.25, dim=1).eval()
    x = torch.randn(3, 8, 7)
    out = layer(x)
    assert torch.equal(out[:, :6], x[:, :6]) and torch.equal(out[:, 6:], torch.zeros(3, 2, 7))
    assert torch.equal(layer(x), out)
    assert layer.kept_width() == 6 and layer_at(5.0).kept_width() == 5


def test_full_width_passes_everything_in_training() -> None:
    x = torch.randn(5, 8)
    assert torch.equal(layer_at(8.0).train()(x), x)


@pytest.mark.parametrize("k", [5.0, 5.0 + 1e-6, 5.5, 6.0 - 1e-6])
def test_gradient_reaches_kappa_and_stays_finite_at_integer_edges(k: float) -> None:
    layer = layer_at(k).train()
    x = torch.randn(256, 8)
    target = torch.randn(256, 8)
    ((layer(x) - target) ** 2).mean().backward()
    assert layer.kappa.grad is not None and torch.isfinite(layer.kappa.grad)
    if k == 5.5:
        assert layer.kappa.grad != 0


def test_expected_loss_falls_as_k_grows_when_the_channel_matters() -> None:
    """The task gradient pushes K up where the blended channel carries the target."""
    torch.manual_seed(0)
    layer = layer_at(3.5).train()
    x = torch.randn(4096, 8)
    loss = ((layer(x) - x) ** 2).mean()
    loss.backward()
    assert layer.kappa.grad < 0


def test_gates_share_one_kappa_per_knob_and_project_it() -> None:
    gates = DCLGates(kappa_min=0.25)
    a, b, c = gates("h", 8, -1), gates("h", 8, 1), gates("g", 4, -1)
    assert a.kappa is b.kappa and a.kappa is not c.kappa
    with torch.no_grad():
        a.kappa.fill_(0.1)
        c.kappa.fill_(1.7)
    gates.project_()
    assert gates.kappas()["h"].item() == 0.25 and gates.kappas()["g"].item() == 1.0
    assert gates.kept_widths() == {"h": 2, "g": 4}
    assert gates.effective_widths()["h"].item() == 2.0
    with pytest.raises(ValueError, match="knob 'h'"):
        gates("h", 6, -1)
