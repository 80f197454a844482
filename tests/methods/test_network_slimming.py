"""network-slimming: widths within the MAC target, exact pruning of dead channels, the epoch split."""

from __future__ import annotations

import pytest
import torch

from tradeoff_bench.core.flops import count_macs
from tradeoff_bench.methods import RunContext
from tradeoff_bench.methods.channels import knob_axes, threshold_widths
from tradeoff_bench.methods.compress import EpochBudget
from tradeoff_bench.methods.dcl.complexity import fit_complexity
from tradeoff_bench.methods.network_slimming import NetworkSlimming, ScaleGates, prune
from tradeoff_bench.tasks.synthetic import SyntheticTask

TINY = {"n_train": 256, "n_val": 64, "n_test": 128, "max_width": 16, "teacher_width": 4, "epochs": 4}
FAMILIES = {
    "mlp": SyntheticTask(**TINY, depth=2),
    "conv": SyntheticTask(**TINY, model="conv", depth=2, length=6),
}


@pytest.mark.parametrize("target", [0.1, 0.25, 0.5, 0.9])
def test_threshold_widths_fill_the_target_and_no_more(target: float) -> None:
    task = FAMILIES["mlp"]
    complexity = fit_complexity(task, count_macs)
    torch.manual_seed(0)
    scores = {knob: torch.rand(width) for knob, width in task.knobs.items()}
    widths = threshold_widths(scores, complexity, target)
    assert complexity.exact(widths) <= target * complexity.full_macs
    # the next channel in global score order would break the budget
    kept = {k: scores[k].sort(descending=True).values[: widths[k]] for k in widths}
    threshold = min(float(v.min()) for v in kept.values())
    best_next = max(
        (float(scores[k].sort(descending=True).values[widths[k]]), k) for k in widths if widths[k] < scores[k].numel()
    )
    assert best_next[0] <= threshold
    assert complexity.exact({**widths, best_next[1]: widths[best_next[1]] + 1}) > target * complexity.full_macs


def test_an_unreachable_target_is_an_error() -> None:
    task = FAMILIES["mlp"]
    scores = {knob: torch.rand(width) for knob, width in task.knobs.items()}
    with pytest.raises(ValueError, match="below"):
        threshold_widths(scores, fit_complexity(task, count_macs), 1e-4)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_pruning_channels_whose_scale_is_zero_keeps_the_function(family: str) -> None:
    task = FAMILIES[family]
    torch.manual_seed(0)
    gates = ScaleGates()
    model = task.build_model(gate=gates).eval()
    widths = {}
    with torch.no_grad():
        for knob, gamma in gates.gammas.items():
            gamma.copy_(torch.randn(gamma.shape))
            dead = torch.randperm(gamma.numel())[: gamma.numel() // 3]
            gamma[dead] = 0.0
            widths[knob] = gamma.numel() - len(dead)
    pruned = prune(task, model, knob_axes(task), gates, widths)
    x = next(task.batches("val", 32))[0]
    with torch.no_grad():
        torch.testing.assert_close(pruned(x), model(x), rtol=1e-5, atol=1e-5)
    assert count_macs(pruned, task.example_input()) < count_macs(task.build_model(), task.example_input())


def test_the_phases_share_the_recipe_epochs() -> None:
    task = SyntheticTask(epochs=40)
    assert NetworkSlimming().budget(task) == EpochBudget(30, 10, 1)
    assert NetworkSlimming(epochs=35).budget(task) == EpochBudget(35, 5, 1)
    assert NetworkSlimming(finetune_epochs=0).budget(task) == EpochBudget(40, 0, 1)
    with pytest.raises(ValueError, match="no pre-training"):
        NetworkSlimming(finetune_epochs=40).budget(task)


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="targets"):
        NetworkSlimming(targets=(0.0,))
    with pytest.raises(ValueError, match="l1"):
        NetworkSlimming(l1=-1.0)


def test_run_meets_each_target_and_macs_fall_with_it() -> None:
    task = FAMILIES["mlp"]
    torch.manual_seed(0)
    method = NetworkSlimming(l1=1e-3, targets=(0.25, 0.5), epochs=3, finetune_epochs=1)
    candidates = method.run(task, RunContext(seed=0, count_macs=count_macs))
    macs = [count_macs(c.model, task.example_input()) for c in candidates]
    full = count_macs(task.build_model(), task.example_input())
    for candidate, target, counted in zip(candidates, (0.25, 0.5), macs):
        assert counted <= target * full
        assert candidate.facts["achieved_fraction"] == counted / full
        assert candidate.train_epochs == 4
        assert not candidate.model.training
    assert macs[0] < macs[1]
