"""Budget extraction: the best ⌊K⌋/⌈K⌉ choice under the ceiling, and refusal of unreachable budgets."""

import itertools
import math

import pytest

from tradeoff_bench.core.flops import count_macs
from tradeoff_bench.methods.dcl.budget import TOLERANCE, ceiling_widths, check_reachable, widen_to_budget
from tradeoff_bench.methods.dcl.complexity import fit_complexity
from tradeoff_bench.tasks.synthetic import SyntheticTask

TASK = SyntheticTask(depth=2, max_width=16, teacher_width=4)
COMPLEXITY = fit_complexity(TASK, count_macs)
LOWEST = {"hidden1": 1, "hidden2": 1}


@pytest.mark.parametrize("budget", [0.25, 0.5, 0.75])
@pytest.mark.parametrize("learned", [{"hidden1": 9.3, "hidden2": 7.6}, {"hidden1": 4.5, "hidden2": 12.2}])
def test_the_richest_rounding_under_the_budget_is_chosen(budget: float, learned: dict[str, float]) -> None:
    cap = budget * COMPLEXITY.full_macs
    widths = ceiling_widths(COMPLEXITY, learned, {}, budget, LOWEST)
    assert COMPLEXITY.exact(widths) <= cap
    choices = [(math.floor(v), math.ceil(v)) for v in learned.values()]
    roundings = [dict(zip(learned, c)) for c in itertools.product(*choices)]
    fitting = [COMPLEXITY.exact(w) for w in roundings if COMPLEXITY.exact(w) <= cap]
    if fitting:  # one of the roundings, the one of most MACs
        assert widths in roundings and COMPLEXITY.exact(widths) == max(fitting)
    else:  # every ⌊K⌋ is over: narrowed one channel at a time, so one channel more would not fit
        assert all(widths[k] <= math.floor(v) for k, v in learned.items())
        assert any(COMPLEXITY.exact({**widths, k: widths[k] + 1}) > cap for k in learned)


@pytest.mark.parametrize("budget", [0.25, 0.5, 0.75])
def test_widening_adds_channels_while_one_still_fits(budget: float) -> None:
    cap = budget * COMPLEXITY.full_macs
    widths = widen_to_budget(COMPLEXITY, {"hidden1": 2, "hidden2": 1}, ["hidden1", "hidden2"], budget)
    assert widths["hidden1"] >= 2 and COMPLEXITY.exact(widths) <= cap
    assert all(COMPLEXITY.exact({**widths, k: widths[k] + 1}) > cap for k in widths if widths[k] < 16)
    assert COMPLEXITY.exact(widths) >= (budget - TOLERANCE) * COMPLEXITY.full_macs
    only_two = widen_to_budget(COMPLEXITY, {"hidden1": 2, "hidden2": 1}, ["hidden2"], budget)
    assert only_two["hidden1"] == 2  # knobs not named keep their width


def test_fixed_knobs_keep_their_width() -> None:
    budget = COMPLEXITY.exact({"hidden1": 16, "hidden2": 6}) / COMPLEXITY.full_macs
    widths = ceiling_widths(COMPLEXITY, {"hidden2": 5.5}, {"hidden1": 16}, budget, LOWEST)
    assert widths == {"hidden1": 16, "hidden2": 6}
    narrower = ceiling_widths(COMPLEXITY, {"hidden2": 5.5}, {"hidden1": 16}, budget - 1e-6, LOWEST)
    assert narrower == {"hidden1": 16, "hidden2": 5}


def test_a_budget_that_no_model_meets_closely_is_refused() -> None:
    coarse = SyntheticTask(depth=1, max_width=4, teacher_width=2)
    complexity = fit_complexity(coarse, count_macs)
    fractions = sorted(complexity.exact({"hidden1": w}) / complexity.full_macs for w in range(1, 5))
    gap = next(a + TOLERANCE + 0.01 for a, b in zip(fractions, fractions[1:]) if b - a > TOLERANCE + 0.02)
    with pytest.raises(ValueError, match="cannot be met within"):
        check_reachable(complexity, {"hidden1": 1}, gap)
    check_reachable(complexity, {"hidden1": 1}, fractions[1])  # a budget on a model's own cost is met
