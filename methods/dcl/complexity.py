"""A differentiable MAC count of a task's model as a function of its (continuous) knob widths.

The MACs of the model families here are a polynomial of low total degree in the knob widths: a
gated knob's consumer costs linearly in its width, two gated knobs in a row bilinearly, a knob that
feeds itself (an RNN's hidden state, attention's d_model) quadratically, and two channel knobs of a
2-D convolution that slides over a third knob's rows (a user's CRNN with its mel bands as a knob)
cubically. The coefficients are fitted exactly (rational arithmetic) from the bench's own counter
at the points of a degree-d lattice, which determine such a polynomial uniquely, then checked at
further points (corners and random widths); the lowest degree that passes (2, else 3) is kept. A
cost that is not such a polynomial (floor effects of pooling over a knob, a product of four knobs)
is an error naming the knob, never a silently wrong model.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Mapping
from fractions import Fraction

import torch

from tradeoff_bench.core.errors import UserError
from tradeoff_bench.methods.base import MacCounter
from tradeoff_bench.tasks.base import Task

DEGREES = (2, 3)
"""The degrees tried, in order: a degree-3 lattice needs far more counts, so it is fitted only where 2 fails."""
RANDOM_CHECKS = 4

Exponents = tuple[int, ...]


class ComplexityModelError(UserError, ValueError):
    """The task's MAC count is not a polynomial of degree ≤ 3 in its knob widths."""


class ComplexityModel:
    """MACs(K) = Σ c_e · Π K_i^e_i over the task's knobs, exact at integer widths."""

    def __init__(
        self, full_widths: Mapping[str, int], terms: tuple[tuple[Exponents, Fraction], ...], full_macs: int
    ) -> None:
        self.full_widths = dict(full_widths)
        self.knobs, self.terms, self.full_macs = tuple(full_widths), terms, full_macs
        self._exponents = torch.tensor([exps for exps, _ in terms], dtype=torch.float64)
        self._coefficients = torch.tensor([float(c) for _, c in terms], dtype=torch.float64)
        self._cache: dict[tuple[torch.dtype, torch.device], tuple[torch.Tensor, torch.Tensor]] = {}

    def value(self, widths: Mapping[str, int]) -> Fraction:
        """The polynomial at integer widths, in exact arithmetic."""
        return sum(
            (c * math.prod(Fraction(widths[k]) ** e for k, e in zip(self.knobs, exps)) for exps, c in self.terms),
            Fraction(0),
        )

    def exact(self, widths: Mapping[str, int]) -> int:
        """The count at integer widths (what the bench measures for the model at these widths)."""
        value = self.value(widths)
        if value.denominator != 1:
            raise ComplexityModelError(f"MACs at {dict(widths)} evaluate to the non-integer {value}")
        return int(value)

    def __call__(self, widths: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """MACs at continuous (positive) widths, differentiable, in the widths' dtype (float64 is exact
        at integer widths up to 2**53 MACs; float32 suffices for a penalty)."""
        k = torch.stack([widths[name] for name in self.knobs])
        exponents, coefficients = self._constants(k)
        return (k**exponents).prod(dim=1) @ coefficients

    def _constants(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        key = (like.dtype, like.device)
        if key not in self._cache:
            self._cache[key] = (self._exponents.to(*key[::-1]), self._coefficients.to(*key[::-1]))
        return self._cache[key]


def fit_complexity(task: Task, count_macs: MacCounter) -> ComplexityModel:
    """Fit and verify the MAC polynomial of `task`'s model family with the bench's counter."""
    if not task.knobs:
        raise ComplexityModelError(f"task {task.name!r} has no width knobs")
    for degree in DEGREES[:-1]:
        try:
            return _fit(task, count_macs, degree)
        except ComplexityModelError:
            continue
    return _fit(task, count_macs, DEGREES[-1])


def _fit(task: Task, count_macs: MacCounter, degree: int) -> ComplexityModel:
    """The polynomial of total degree ≤ `degree` through the counts at a lattice, checked elsewhere."""
    full = task.knobs
    knobs = tuple(full)
    lattice = _lower_set([min(degree, full[k] - 1) for k in knobs], degree)
    step = [max(1, (full[k] - 1) // degree) for k in knobs]
    points = [tuple(full[k] - u * s for k, u, s in zip(knobs, exps, step)) for exps in lattice]
    counts = [_count(task, count_macs, dict(zip(knobs, p))) for p in points]
    matrix = [
        [math.prod((Fraction(x) ** e for x, e in zip(p, exps)), start=Fraction(1)) for exps in lattice] for p in points
    ]
    model = ComplexityModel(full, tuple(zip(lattice, _solve(matrix, counts))), counts[0])
    for point in _check_points(knobs, full, set(points)):
        widths = dict(zip(knobs, point))
        counted = _count(task, count_macs, widths)
        if model.value(widths) != counted:
            raise ComplexityModelError(_blame(task, count_macs, model, widths, counted, degree))
    return model


def _lower_set(limits: list[int], degree: int) -> list[Exponents]:
    """Exponent vectors e with Σe ≤ `degree` and e_i ≤ limits[i], the all-zero one first."""
    ranges = [range(limit + 1) for limit in limits]
    return sorted((e for e in itertools.product(*ranges) if sum(e) <= degree), key=lambda e: (sum(e), [-x for x in e]))


def _count(task: Task, count_macs: MacCounter, widths: dict[str, int]) -> int:
    try:
        with torch.random.fork_rng(devices=[]):  # building a model must not move the training RNG
            model = task.build_model(widths)
        return int(count_macs(model.eval(), task.example_input()))
    except Exception as err:
        raise ComplexityModelError(f"cannot count the MACs of task {task.name!r} at widths {widths}: {err}") from err


def _solve(matrix: list[list[Fraction]], rhs: list[int]) -> list[Fraction]:
    """Exact Gaussian elimination; the lattice points make the system nonsingular."""
    n = len(rhs)
    rows = [row[:] + [Fraction(b)] for row, b in zip(matrix, rhs)]
    for col in range(n):
        pivot = next(r for r in range(col, n) if rows[r][col] != 0)
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(n):
            if r != col and rows[r][col] != 0:
                factor = rows[r][col] / rows[col][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col])]
    return [rows[i][n] / rows[i][i] for i in range(n)]


def _check_points(knobs: tuple[str, ...], full: dict[str, int], fitted: set[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """Corners (all narrowest; each knob alone narrowest or widest) and seeded random widths."""
    top = tuple(full[k] for k in knobs)
    points = [tuple(1 for _ in knobs)]
    for i in range(len(knobs)):
        points.append(top[:i] + (1,) + top[i + 1 :])
        points.append(tuple(1 for _ in knobs[:i]) + (top[i],) + tuple(1 for _ in knobs[i + 1 :]))
    rng = random.Random(0)
    points += [tuple(rng.randint(1, n) for n in top) for _ in range(RANDOM_CHECKS)]
    return [p for p in dict.fromkeys(points) if p not in fitted]


def _blame(
    task: Task, count_macs: MacCounter, model: ComplexityModel, widths: dict[str, int], counted: int, degree: int
) -> str:
    full = task.knobs
    changed = [k for k in model.knobs if widths[k] != full[k]]
    alone = [k for k in changed if _count(task, count_macs, {k: widths[k]}) != model.value({**full, k: widths[k]})]
    names = ", ".join(map(repr, alone or changed))
    culprit = f"knob(s) {names}" if alone else f"the interaction of knobs {names}"
    return (
        f"MACs of task {task.name!r} are not a polynomial of degree ≤ {degree} in {culprit}: at widths {widths} "
        f"the counter gives {counted} but the fitted polynomial {model.value(widths)} (pooling or striding over "
        "a knob's axis, or a product of four knobs, breaks the DCL complexity model)"
    )
