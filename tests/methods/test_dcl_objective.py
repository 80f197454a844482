"""The cost objective dcl and noisy-gates share: exact cost at integer widths, warm-up, budget terms."""

import pytest
import torch

from tradeoff_bench.core.flops import count_macs
from tradeoff_bench.methods.dcl import DCL
from tradeoff_bench.methods.dcl.complexity import fit_complexity
from tradeoff_bench.methods.dcl.objective import CostObjective
from tradeoff_bench.methods.noisy_gates import NoisyGatesMethod
from tradeoff_bench.tasks.synthetic import SyntheticTask

TASK = SyntheticTask(depth=2, max_width=16, teacher_width=4, n_train=64, n_val=16, n_test=16)
COMPLEXITY = fit_complexity(TASK, count_macs)


def _objective(method: DCL | NoisyGatesMethod, widths: dict[str, float], steps: int = 0, rho: float = 0.0):
    learned = {k: torch.tensor(v, requires_grad=True) for k, v in widths.items()}
    return CostObjective(method, TASK, COMPLEXITY, lambda: learned, steps, rho), learned


def test_the_cost_is_the_exact_macs_fraction_with_unlearned_knobs_at_full_width() -> None:
    objective, learned = _objective(DCL(), {"hidden2": 5.0})
    cost = objective.cost()
    assert cost.item() == pytest.approx(COMPLEXITY.exact({"hidden1": 16, "hidden2": 5}) / COMPLEXITY.full_macs)
    cost.backward()
    assert learned["hidden2"].grad is not None and learned["hidden2"].grad > 0


@pytest.mark.parametrize("method", [DCL(alpha=2.0, warmup=0.5), NoisyGatesMethod(alpha=2.0, warmup=0.5)])
def test_alpha_ramps_up_over_the_warmup_for_both_methods(method: DCL | NoisyGatesMethod) -> None:
    objective, _ = _objective(method, {"hidden1": 8.0, "hidden2": 8.0}, steps=10)
    weights = []
    for _ in range(8):
        weights.append(objective.penalty_weight())
        objective.after_step()
    assert weights[:6] == pytest.approx([2.0 * (s + 1) / 6 for s in range(6)]) and weights[6:] == [2.0, 2.0]


def test_budget_mode_adds_the_multiplier_and_the_quadratic() -> None:
    x, y = next(TASK.batches("train", 8))
    model = TASK.build_model()
    objective, _ = _objective(NoisyGatesMethod(mode="budget", budget=0.4), {"hidden1": 8.0, "hidden2": 8.0}, rho=3.0)
    objective.multiplier = 0.7
    cost = COMPLEXITY.exact({"hidden1": 8, "hidden2": 8}) / COMPLEXITY.full_macs
    with torch.no_grad():
        expected = TASK.loss(model(x), y).item() + 0.7 * cost + 1.5 * (cost - 0.4) ** 2
        assert objective.loss(model, x, y).item() == pytest.approx(expected, rel=1e-5)
    assert objective.last_cost.item() == pytest.approx(cost)
