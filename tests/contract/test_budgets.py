"""A MAC budget or target is a ceiling: every method that takes one realises [b − 5 %, b] of the full
model's fvcore MACs, or refuses the budget before training."""

import dataclasses

import pytest
import torch

from tradeoff_bench.core.flops import count_macs
from tradeoff_bench.core.registry import configure
from tradeoff_bench.methods import METHODS, RunContext
from tradeoff_bench.methods.dcl.budget import TOLERANCE
from tradeoff_bench.tasks import TASKS

BUDGETS = (0.25, 0.5, 0.75)
EVERY_BUDGET = {"dcl", "noisy-gates"}
"""The width learners, tested at every budget; the others at 0.5 (test time)."""
TINY_TASKS = {"synthetic": 0, "vad": 0, "asvspoof2019": 0}
"""One tiny variant per task whose knobs are fine enough for every budget (the tiny LCNN's are not)."""


def _budget_settings(method: str, budget: float) -> dict | None:
    """Settings that ask `method` for `budget`: a `budget` (in budget mode) or a one-element `targets`."""
    fields = {f.name for f in dataclasses.fields(METHODS.get(method))}
    if "budget" in fields:
        return {"budget": budget, **({"mode": "budget"} if "mode" in fields else {})}
    if "targets" in fields:
        return {"targets": (budget,)}
    return None


CASES = [
    pytest.param(method, task, budget, id=f"{method}-{task}-{budget}")
    for method in METHODS.names()
    if _budget_settings(method, 0.5) is not None
    for task in TINY_TASKS
    for budget in (BUDGETS if method in EVERY_BUDGET else (0.5,))
]


@pytest.mark.slow
@pytest.mark.parametrize(("method", "task", "budget"), CASES)
def test_realised_macs_lie_within_the_budget(method: str, task: str, budget: float) -> None:
    task_obj = configure(TASKS.get(task), TASKS.get(task).tiny_variants[TINY_TASKS[task]], task)
    settings = {**METHODS.get(method).tiny_settings, **_budget_settings(method, budget)}  # type: ignore[arg-type]
    method_obj = configure(METHODS.get(method), settings, method)
    torch.manual_seed(0)
    fits: list[int] = []
    try:
        method_obj.check(task_obj)
        [candidate] = method_obj.run(task_obj, _counting_context(fits))
    except ValueError as refusal:  # an unreachable budget: refused before any training
        assert not fits and ("below" in str(refusal) or "cannot be met" in str(refusal)), refusal
        return
    x = task_obj.example_input()
    fraction = count_macs(candidate.model, x) / count_macs(task_obj.build_model(), x)
    assert budget - TOLERANCE <= fraction <= budget, (fraction, candidate.widths, candidate.facts)


def _counting_context(fits: list[int]) -> RunContext:
    """A context whose log records each training epoch (`fit` logs one line per epoch)."""
    return RunContext(seed=0, count_macs=count_macs, log=lambda message: fits.append(1) if "epoch" in message else None)


def test_dcl_refuses_a_budget_its_knobs_cannot_meet_closely_before_training() -> None:
    lcnn = configure(TASKS.get("asvspoof2019"), TASKS.get("asvspoof2019").tiny_variants[1], "asvspoof2019")
    method = configure(METHODS.get("dcl"), {"mode": "budget", "budget": 0.5}, "dcl")
    with pytest.raises(ValueError, match="cannot be met within"):
        method.check(lcnn, count_macs)
