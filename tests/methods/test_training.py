"""The shared training loop's model selection (best dev epoch at the final widths) and convergence flag."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
from torch import nn

from tradeoff_bench.core.flops import count_macs
from tradeoff_bench.methods import RunContext, training
from tradeoff_bench.methods.training import FitResult, convergence, fit, training_facts
from tradeoff_bench.tasks.synthetic import SyntheticTask

SMALL = {"n_train": 128, "n_val": 32, "n_test": 32, "max_width": 8, "teacher_width": 4}


@dataclass
class ScriptedDevTask(SyntheticTask):
    """A synthetic task whose dev metric (mse, lower is better) follows a script, one value per epoch."""

    script: list[float] = field(default_factory=list)

    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        if split != "val":
            return super().evaluate(model, split)
        return {self.primary_metric: self.script.pop(0)}


def snapshots(model: nn.Module, store: list[dict[str, torch.Tensor]]) -> dict[str, Any]:
    """An `epoch_facts` hook keeping a copy of the parameters after each epoch."""
    store.append({k: v.detach().clone() for k, v in model.state_dict().items()})
    return {}


def scripted_fit(dev: list[float], structures: list[dict[str, int]] | None = None) -> tuple[FitResult, nn.Module, list]:
    task = ScriptedDevTask(**SMALL, epochs=len(dev), script=list(dev))
    model = task.build_model()
    states: list[dict[str, torch.Tensor]] = []
    shapes = iter(structures or [])
    result = fit(
        model, task, RunContext(seed=0, count_macs=count_macs), epoch_facts=lambda: snapshots(model, states),
        structure=(lambda: next(shapes)) if structures else None,
    )  # fmt: skip
    return result, model, states


def held(model: nn.Module, state: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


def test_fit_restores_the_best_dev_epoch_not_the_last() -> None:
    result, model, states = scripted_fit([5.0, 1.0, 3.0, 2.0])
    assert result.selected_epoch == 2
    assert [e["selected"] for e in result.history] == [False, True, False, False]
    assert held(model, states[1]) and not held(model, states[3])


def test_fit_selects_only_among_epochs_at_the_final_widths() -> None:
    # the best dev value overall (epoch 2) is at other widths than the last epoch's: epoch 3 is chosen
    structures = [{"w": 2}, {"w": 1}, {"w": 2}, {"w": 2}]
    result, model, states = scripted_fit([5.0, 1.0, 3.0, 4.0], structures)
    assert result.selected_epoch == 3
    assert [e["widths"] for e in result.history] == structures
    assert held(model, states[2])


def test_fit_breaks_dev_metric_ties_by_the_dev_loss_then_keeps_the_later_epoch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scores = [(2.0, 0.1), (1.0, 0.4), (1.0, 0.3), (1.0, 0.35), (1.0, 0.3), (1.5, 0.2)]
    script = iter(scores)
    monkeypatch.setattr(training, "_dev_scores", lambda model, task: next(script))
    task = SyntheticTask(**SMALL, epochs=len(scores))
    result = fit(task.build_model(), task, RunContext(seed=0, count_macs=count_macs))
    assert result.selected_epoch == 5
    assert [(e["dev"], e["dev_loss"]) for e in result.history] == scores


def test_fit_computes_the_mean_dev_loss_and_keeps_the_last_epoch_without_dev() -> None:
    task = SyntheticTask(**SMALL, epochs=2)
    model = task.build_model()
    result = fit(model, task, RunContext(seed=0, count_macs=count_macs))
    x, y = next(task.batches("val", SMALL["n_val"]))
    kept = next(entry for entry in result.history if entry["selected"])
    assert kept["dev_loss"] == pytest.approx(task.loss(model(x), y).item(), rel=1e-3)
    result = fit(task.build_model(), task, RunContext(seed=0, count_macs=count_macs), dev=False)
    assert result.selected_epoch == 2 and result.converged is None


def test_selected_model_scores_its_recorded_dev_value_on_a_real_task() -> None:
    task = SyntheticTask(**SMALL, epochs=4, lr=0.05)
    model = task.build_model()
    result = fit(model, task, RunContext(seed=0, count_macs=count_macs))
    chosen = result.history[result.selected_epoch - 1]["dev"]
    assert chosen == min(e["dev"] for e in result.history)
    assert task.evaluate(model, "val")["mse"] == pytest.approx(chosen, rel=1e-3)


@pytest.mark.parametrize(
    ("devs", "higher", "expected"),
    [
        ([10.0, 5.0, 4.0, 3.0, 2.0], False, False),  # the last two fifths still gain 50 %
        ([10.0, 5.0, 4.0, 3.95, 3.94], False, True),  # 1.5 %: within the 2 % tolerance
        ([10.0, 5.0, 4.0, 4.0, 3.7], False, False),  # a late gain counts
        ([50.0, 60.0, 70.0, 70.5, 75.0], True, False),
        ([50.0, 60.0, 70.0, 71.0, 71.2], True, True),
        ([3.0], False, None),
    ],
)
def test_convergence_flags_a_dev_metric_still_improving_over_the_last_two_fifths(
    devs: list[float], higher: bool, expected: bool | None
) -> None:
    assert convergence(devs, higher) is expected


def test_training_facts_join_phases_and_judge_every_phase_that_can_be_judged() -> None:
    first, _, _ = scripted_fit([5.0, 4.0, 3.0, 2.0, 1.0])
    second, _, _ = scripted_fit([1.0, 1.0])
    facts = training_facts(first, second)
    assert len(facts["history"]) == 7 and facts["selected_epoch"] == 2
    assert facts["converged"] is False and training_facts(second)["converged"] is True
