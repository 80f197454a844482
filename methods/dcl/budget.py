"""A MAC budget as a ceiling: integer widths whose exact MACs lie in [b − tolerance, b] of the full model's.

Shared by the methods that learn widths against a budget (`dcl`, `noisy-gates`). Before training,
`check_budget` refuses a budget below the narrowest allowed model or one that no width on the way
from it to the full model meets (one knob's channel can cost more than the tolerance). After
training, `ceiling_widths` rounds each learned width down or up: of the 2^n choices of ⌊K⌋ / ⌈K⌉
it keeps the one of most MACs within the budget, and if even every ⌊K⌋ is over it, it narrows the
relatively widest knob one channel at a time until the model fits. `widen_to_budget` then adds
channels, the relatively narrowest knob first, while one still fits, for a method whose added
channels are trained afterwards (noisy-gates' settle phase) and so may also lift a short rounding
to the floor.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping

from tradeoff_bench.methods.dcl.complexity import ComplexityModel

TOLERANCE = 0.05
"""How far below the budget (as a fraction of the full model's MACs) a realised model may land."""


def ceiling_widths(
    complexity: ComplexityModel,
    learned: Mapping[str, float],
    fixed: Mapping[str, int],
    budget: float,
    lowest: Mapping[str, int],
) -> dict[str, int]:
    """Integer widths near the learned K (knobs in `fixed` keep theirs) of most MACs ≤ budget · full,
    no knob below `lowest`."""
    cap = budget * complexity.full_macs
    options = [sorted({max(lowest[k], math.floor(v)), max(lowest[k], math.ceil(v))}) for k, v in learned.items()]
    best: dict[str, int] | None = None
    for choice in itertools.product(*options):
        widths = {**fixed, **dict(zip(learned, choice))}
        macs = complexity.exact(widths)
        if macs <= cap and (best is None or macs > complexity.exact(best)):
            best = widths
    widths = best or {**fixed, **{k: options[i][0] for i, k in enumerate(learned)}}
    full = complexity.full_widths
    while complexity.exact(widths) > cap:
        shrinkable = [k for k in learned if widths[k] > lowest[k]]
        if not shrinkable:
            raise ValueError(f"no widths of the learned knobs fit the budget {budget:g}")
        knob = max(shrinkable, key=lambda k: widths[k] / full[k])
        widths = {**widths, knob: widths[knob] - 1}
    return widths


def widen_to_budget(
    complexity: ComplexityModel, widths: Mapping[str, int], knobs: Iterable[str], budget: float
) -> dict[str, int]:
    """`widths` with channels of `knobs` added one at a time, the relatively narrowest knob whose next
    channel keeps the MACs ≤ budget · full first, until none fits (no knob above its full width)."""
    cap, full = budget * complexity.full_macs, complexity.full_widths
    widths = dict(widths)
    while True:
        fitting = [
            k for k in knobs if widths[k] < full[k] and complexity.exact({**widths, k: widths[k] + 1}) <= cap
        ]  # fmt: skip
        if not fitting:
            return widths
        knob = min(fitting, key=lambda k: (widths[k] / full[k], k))
        widths[knob] += 1


def check_budget(complexity: ComplexityModel, narrowest: Mapping[str, int], budget: float, allowed_by: str) -> None:
    """Refuse, before training, a budget below the MACs of the narrowest model that `allowed_by` (a
    setting, or the rule) allows, or one no model from there to the full one meets closely."""
    lowest = complexity.exact(dict(narrowest)) / complexity.full_macs
    if budget < lowest:
        raise ValueError(
            f"budget {budget:g} is below {lowest:.4g}, the MACs fraction of the narrowest model allowed by "
            f"{allowed_by} (widths {dict(narrowest)}); raise the budget"
        )
    check_reachable(complexity, narrowest, budget)


def check_reachable(complexity: ComplexityModel, lowest: Mapping[str, int], budget: float) -> None:
    """Refuse a budget that no model between the narrowest (`lowest`) and the full one meets within
    [budget − TOLERANCE, budget], on the path that widens every knob in proportion."""
    full = complexity.full_widths
    path = _proportional_path(lowest, full)
    fractions = [complexity.exact(w) / complexity.full_macs for w in path]
    if not any(budget - TOLERANCE <= f <= budget for f in fractions):
        below = max((f for f in fractions if f <= budget), default=None)
        above = min((f for f in fractions if f > budget), default=None)
        raise ValueError(
            f"budget {budget:g} cannot be met within {TOLERANCE:g} of the full MACs: the nearest models between "
            f"the narrowest allowed ({dict(lowest)}) and the full one cost {_fraction(below)} and {_fraction(above)} "
            "of the full MACs (one channel of a knob costs more "
            "than the tolerance); choose a budget near one of them"
        )


def _fraction(value: float | None) -> str:
    return "none" if value is None else f"{value:.4f}"


def _proportional_path(lowest: Mapping[str, int], full: Mapping[str, int]) -> list[dict[str, int]]:
    """Widths from `lowest` to `full`, one channel of one knob at a time, the relatively narrowest first."""
    widths = dict(lowest)
    path = [dict(widths)]
    while widths != dict(full):
        knob = min((k for k in widths if widths[k] < full[k]), key=lambda k: (widths[k] / full[k], k))
        widths[knob] += 1
        path.append(dict(widths))
    return path
