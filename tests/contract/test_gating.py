"""Gating is exact on every knob of every model family: gated off means sliced away.

At an integer width w, the full model whose gates (in eval mode) keep channels [0, w) of one knob
must compute what the model built at width w computes with the leading channels of the same
tensors. Width-learning and pruning methods extract their candidates on that promise.
"""

import pytest
import torch
from torch import nn

from tests.contract.variants import task_variants
from tradeoff_bench.core.registry import configure
from tradeoff_bench.methods.dcl.layer import DCLGates
from tradeoff_bench.methods.slicing import copy_leading_channels
from tradeoff_bench.tasks import TASKS, Task

TOLERANCE = 1e-5
CASES = [
    pytest.param(name, variant, knob, id=f"{ident}-{knob}")
    for name in TASKS.names()
    for ident, variant in task_variants(name)
    for knob in configure(TASKS.get(name), variant, name).knobs
]


def _randomise_statistics(model: nn.Module) -> None:
    """Non-trivial normalisation statistics, so a channel that leaks through a norm shows."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.normal_()
            module.bias.data.normal_()


@pytest.mark.parametrize(("name", "variant", "knob"), CASES)
def test_eval_mode_gated_model_equals_the_sliced_model(name: str, variant: dict, knob: str) -> None:
    task: Task = configure(TASKS.get(name), variant, name)
    full_width = task.knobs[knob]
    width = max(1, full_width // 2)
    torch.manual_seed(0)
    gates = DCLGates(kappa_min=1 / full_width, knobs=[knob])
    gated = task.build_model(gate=gates)
    _randomise_statistics(gated)
    gates.fix_widths_({knob: width})
    sliced = task.build_model({knob: width})
    copy_leading_channels(gated, sliced)
    x = torch.randn_like(task.example_input()).abs()  # a power spectrogram is non-negative
    with torch.no_grad():
        expected, got = sliced.eval()(x), gated.eval()(x)
        full = task.build_model()
        copy_leading_channels(gated, full)
        ungated = full.eval()(x)
    delta = (got - expected).abs().max().item()
    assert delta <= TOLERANCE, f"{name} knob {knob!r} at width {width}: max |Δ output| {delta:.3g}"
    assert (ungated - expected).abs().max().item() > 10 * TOLERANCE, "the gate must matter (test can fail)"
