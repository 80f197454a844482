"""Pareto fronts, hypervolume against hand-computed areas, and metric at fixed budgets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.records import candidate_record
from tradeoff_bench.bench.report import (
    hypervolume,
    normalised_metric,
    pareto_front,
    records_frame,
    seed_budget_metrics,
    seed_hypervolumes,
)
from tradeoff_bench.bench.report.frame import ok_rows
from tradeoff_bench.core.records import Record

FULL = 1000


def record(method: str, seed: int, macs: int, value: float, **extra) -> Record:
    return candidate_record(
        method, seed, macs, {"mse": value}, full_macs=FULL, train_seconds=1.0, train_epochs=2.0, overrides=extra
    )


# --- pareto_front --------------------------------------------------------------------------------
def test_front_keeps_non_dominated_points_by_ascending_cost():
    points = [(3, 0.1), (1, 0.9), (2, 0.5), (2.5, 0.6), (4, 0.1)]
    assert pareto_front(points).tolist() == [1, 2, 0]


def test_front_keeps_one_of_equal_points_and_the_better_at_equal_cost():
    points = [(1, 0.5), (1, 0.5), (1, 0.4), (2, 0.4), (2, 0.2)]
    assert pareto_front(points).tolist() == [2, 4]
    assert pareto_front([(1, 0.5), (1, 0.5)]).tolist() == [0]


def test_front_follows_direction_and_ignores_nan():
    points = [(1, 50.0), (2, 70.0), (3, 60.0), (0.5, np.nan)]
    assert pareto_front(points, higher_is_better=True).tolist() == [0, 1]
    assert pareto_front(points, higher_is_better=False).tolist() == [0]
    assert pareto_front(np.empty((0, 2))).tolist() == []


# --- hypervolume -----------------------------------------------------------------------------------
def test_hypervolume_of_one_point_is_its_box():
    assert hypervolume([(0.5, 0.5)]) == pytest.approx(0.25)
    assert hypervolume([(0.2, 0.3)]) == pytest.approx(0.8 * 0.7)
    assert hypervolume([(0.0, 0.0)]) == pytest.approx(1.0)  # zero-cost perfect model


def test_hypervolume_of_a_staircase():
    stairs = [(0.2, 0.6), (0.5, 0.3), (0.8, 0.1)]
    expected = 0.3 * 0.4 + 0.3 * 0.7 + 0.2 * 0.9  # = 0.51
    assert hypervolume(stairs) == pytest.approx(expected)
    assert hypervolume(stairs[::-1]) == pytest.approx(expected)


def test_dominated_and_duplicate_points_add_nothing():
    stairs = [(0.2, 0.6), (0.5, 0.3), (0.8, 0.1)]
    assert hypervolume(stairs + [(0.6, 0.6), (0.5, 0.3), (0.9, 0.9)]) == pytest.approx(0.51)


def test_points_outside_the_reference_box_add_nothing():
    assert hypervolume([(1.2, 0.0), (0.1, 1.5), (1.0, 0.5), (0.5, 1.0)]) == 0.0
    assert hypervolume([(0.5, 0.5), (1.2, 0.0), (0.1, 1.5)]) == pytest.approx(0.25)
    assert hypervolume([]) == 0.0


def test_normalised_metric_maps_ideal_to_zero_and_reference_to_one():
    assert normalised_metric([0.0, 0.5, 1.0, 2.0], 1.0, 0.0, False).tolist() == [0.0, 0.5, 1.0, 2.0]
    # accuracy in %: ideal 100, trivial predictor 10
    assert normalised_metric([100.0, 55.0, 10.0], 10.0, 100.0, True) == pytest.approx([0.0, 0.5, 1.0])
    # a reference no worse than the ideal is unusable
    assert np.isnan(normalised_metric([0.5], 0.0, 0.0, False)).all()
    assert np.isnan(normalised_metric([50.0], 100.0, 100.0, True)).all()


# --- per seed, on a grid of 2 methods x 3 seeds x 4 candidates ----------------------------------------
def grid() -> list[Record]:
    records = []
    for seed, shift in zip((0, 1, 2), (0.0, 0.04, -0.04), strict=True):
        for macs, value in zip((250, 500, 750, 1000), (0.8, 0.6, 0.4, 0.2), strict=True):
            records.append(record("alpha", seed, macs, value + shift))
    for seed, first in zip((0, 1, 2), (0.5, 0.6, 0.4), strict=True):
        # (500, first): equal metric at higher cost; (600, 0.7): dominated; (1200, 0.1): beyond x_ref
        for macs, value in ((250, first), (500, first), (600, 0.7), (1200, 0.1)):
            records.append(record("beta", seed, macs, value))
    return records


def test_seed_hypervolumes_match_hand_computed_areas():
    hv = seed_hypervolumes(ok_rows(records_frame(grid())))
    got = {(m, s): v for m, s, v in zip(hv["method"], hv["seed"], hv["hypervolume"], strict=True)}
    # alpha seed 0: 0.25 * (0.2 + 0.4 + 0.6) = 0.3; each seed shift of 0.04 moves 3 steps of 0.25 width
    assert got[("alpha", 0)] == pytest.approx(0.30)
    assert got[("alpha", 1)] == pytest.approx(0.27)
    assert got[("alpha", 2)] == pytest.approx(0.33)
    # beta: only (0.25, first) counts: 0.75 * (1 - first)
    assert got[("beta", 0)] == pytest.approx(0.375)
    assert got[("beta", 1)] == pytest.approx(0.30)
    assert got[("beta", 2)] == pytest.approx(0.45)


def test_hypervolume_is_nan_without_a_reference():
    rows = ok_rows(records_frame([record("alpha", 0, 500, 0.5, reference_metric=None)]))
    assert math.isnan(seed_hypervolumes(rows)["hypervolume"].iloc[0])


def test_budget_metric_is_best_within_the_budget():
    table = seed_budget_metrics(ok_rows(records_frame(grid())), budgets=(0.2, 0.25, 0.5, 1.0))
    got = {
        (m, s, b): v
        for m, s, b, v in zip(table["method"], table["seed"], table["budget"], table["metric"], strict=True)
    }
    assert math.isnan(got[("alpha", 0, 0.2)])
    assert got[("alpha", 0, 0.25)] == pytest.approx(0.8)
    assert got[("alpha", 1, 0.5)] == pytest.approx(0.64)
    assert got[("alpha", 2, 1.0)] == pytest.approx(0.16)
    assert got[("beta", 0, 1.0)] == pytest.approx(0.5)  # the 1200-MAC candidate is over budget


def test_budget_metric_of_a_higher_is_better_metric_takes_the_maximum():
    records = [
        record(
            "alpha",
            0,
            macs,
            acc,
            metrics={"accuracy": acc},
            primary_metric="accuracy",
            higher_is_better=True,
            reference_metric=10.0,
        )
        for macs, acc in ((200, 40.0), (400, 70.0), (450, 60.0))
    ]
    frame = records_frame(records)
    table = seed_budget_metrics(ok_rows(frame), budgets=(0.5,))
    assert table["metric"].tolist() == [70.0]
    # y = (100 - acc) / 90: (0.2, 2/3), (0.4, 1/3); (0.45, 4/9) is dominated
    expected = 0.2 * (1 / 3) + 0.6 * (2 / 3)
    assert seed_hypervolumes(ok_rows(frame))["hypervolume"].iloc[0] == pytest.approx(expected)
