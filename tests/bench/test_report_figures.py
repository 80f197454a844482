"""Static figures: the median front over seeds, the focused metric axis, one look per method."""

from __future__ import annotations

import numpy as np
import pytest

from tests.records import candidate_record
from tradeoff_bench.bench.report import board_info, records_frame
from tradeoff_bench.bench.report.focus import focus_range
from tradeoff_bench.bench.report.frame import ok_rows
from tradeoff_bench.bench.report.pareto import median_front
from tradeoff_bench.bench.report.plots import OUTLIER_LABEL, draw_board, overview_figure_bytes
from tradeoff_bench.bench.report.style import method_styles
from tradeoff_bench.core.records import Record

FULL = 1000


def record(method: str, seed: int, macs: int, value: float, task: str = "toy", **extra) -> Record:
    return candidate_record(
        method,
        seed,
        macs,
        {"eer": value},
        full_macs=FULL,
        primary_metric="eer",
        cell_id=f"{task}-{method}-s{seed}",
        task=task,
        overrides=extra,
    )


def rows(records: list[Record]):
    return ok_rows(records_frame(records))


def test_median_front_takes_each_seeds_best_so_far_and_the_median_over_seeds():
    front = median_front(
        rows(
            [
                record("a", 0, 100, 30.0),
                record("a", 0, 400, 10.0),
                record("a", 1, 200, 20.0),
                record("a", 1, 400, 14.0),
                record("a", 2, 300, 26.0),
                record("a", 2, 400, 12.0),
            ]
        )
    )
    # attainment surfaces: at 100 one seed of three attains 30 (not half of them: no median); at 200 two
    # seeds attain 30, the median surface; only from 300 do all three attain something (the worst surface)
    assert front["cost"].tolist() == [200, 300, 400]
    assert front["metric"].tolist() == [30.0, 26.0, 12.0]
    assert front["best"].tolist() == [20.0, 20.0, 10.0]
    assert np.isnan(front["worst"].iloc[0]) and front["worst"].tolist()[1:] == [30.0, 14.0]
    assert front["seeds"].tolist() == [2, 3, 3]


def test_median_front_follows_the_metric_direction():
    recs = [
        record("a", s, 100 * (i + 1), v, metrics={"accuracy": v}, primary_metric="accuracy", higher_is_better=True)
        for s, values in enumerate([(60, 80), (70, 75)])
        for i, v in enumerate(values)
    ]
    front = median_front(rows(recs))
    assert front["metric"].tolist() == [70.0, 80.0]  # of two seeds, the 50 % surface is attained by one
    assert front["best"].tolist() == [70.0, 80.0] and front["worst"].tolist() == [60.0, 75.0]


def test_focus_range_leaves_a_far_outlier_out_and_stops_at_the_ideal():
    low, high = focus_range([8.0, 9.0, 10.0, 12.0, 14.0, 16.0, 96.0], ideal=0.0)
    assert 16.0 < high < 20.0 and 0.0 <= low < 8.0
    assert focus_range([0.0, 0.01, 0.02], ideal=0.0)[0] == 0.0
    assert focus_range([99.0, 99.5, 100.0], ideal=100.0, higher_is_better=True)[1] == 100.0
    assert focus_range([np.nan]) is None
    assert focus_range([5.0, 5.0]) == pytest.approx((4.75, 5.25))


def test_eight_methods_get_eight_colours_and_eight_markers():
    styles = method_styles([f"m{i}" for i in range(8)])
    assert len({s.colour for s in styles.values()}) == 8 and len({s.marker for s in styles.values()}) == 8
    assert "*" not in {s.marker for s in styles.values()}  # the star is the reference systems'
    assert len({(s.colour, s.marker) for s in method_styles([f"m{i}" for i in range(20)]).values()}) == 20


def test_an_outlier_is_drawn_on_the_edge_instead_of_stretching_the_axis():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = [
        record(m, s, macs, 10.0 + 2 * i - s + (3 if m == "b" else 0))
        for m in ("a", "b")
        for s in (0, 1, 2)
        for i, macs in enumerate((1000, 500, 250))
    ]
    recs.append(record("a", 2, 100, 96.0))  # one seed's cheapest candidate, a noisy outlier
    board = records_frame(recs)
    fig, ax = plt.subplots()
    try:
        handles = draw_board(ax, board, board_info(board), method_styles(["a", "b"]))
        low, high = ax.get_ylim()
        assert high < 30.0 and low >= 0.0
        assert OUTLIER_LABEL in handles and {"a", "b"} <= set(handles)
        edge = [c for c in ax.collections if len(c.get_offsets()) and np.allclose(c.get_offsets()[:, 1], high)]
        assert edge and edge[0].get_offsets()[0, 0] == 100.0
    finally:
        plt.close(fig)


def test_overview_has_a_panel_per_board():
    boards = []
    for task in ("one", "two", "three", "four"):
        board = records_frame([record("a", 0, 500, 20.0, task=task), record("a", 0, 1000, 10.0, task=task)])
        boards.append((board, board_info(board)))
    png, svg = overview_figure_bytes(boards)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    text = svg.decode()
    assert all(f"<!-- {task} — toy-corpus -->" in text for task in ("one", "two", "three", "four"))
