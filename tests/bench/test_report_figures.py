"""Static figures: fronts through existing candidates, the focused metric axis, readable log ticks, one look
per method, print PDFs."""

from __future__ import annotations

import numpy as np
import pytest

from tests.records import candidate_record
from tradeoff_bench.bench.report import board_info, records_frame
from tradeoff_bench.bench.report.focus import focus_range
from tradeoff_bench.bench.report.frame import ok_rows
from tradeoff_bench.bench.report.pareto import label_front
from tradeoff_bench.bench.report.plots import (
    FRONT_GID,
    OUTLIER_LABEL,
    draw_board,
    log_ticks,
    overview_figure_bytes,
    pareto_pdf_bytes,
)
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


def test_label_front_aggregates_each_label_over_seeds_and_keeps_the_non_dominated():
    recs = [
        record("a", seed, macs, value, label=label)
        for label, macs, values in (("x1", 100, (30.0, 26.0, 28.0)), ("x2", 200, (31.0, 29.0, 33.0)))
        for seed, value in enumerate(values)
    ]
    recs += [record("a", 0, 390, 12.0, label="x4"), record("a", 1, 410, 16.0, label="x4")]
    front = label_front(rows(recs))
    # x2 (mean 31 at 200) is dominated by x1 (mean 28 at 100); x4 costs its seeds' mean, 400
    assert front["label"].tolist() == ["x1", "x4"]
    assert front["cost"].tolist() == [100.0, 400.0] and front["metric"].tolist() == [28.0, 14.0]
    assert front["low"].tolist() == [26.0, 12.0] and front["high"].tolist() == [30.0, 16.0]
    assert front["seeds"].tolist() == [3, 2]
    assert label_front(rows(recs), "median")["metric"].tolist() == [28.0, 14.0]
    assert label_front(rows(recs[:3]), "median")["metric"].tolist() == [28.0]


def test_label_front_follows_the_metric_direction():
    recs = [
        record("a", s, 100 * (i + 1), v, metrics={"accuracy": v}, primary_metric="accuracy", higher_is_better=True)
        for s, values in enumerate([(60, 80), (70, 75)])
        for i, v in enumerate(values)
    ]
    front = label_front(rows(recs), "median")
    assert front["metric"].tolist() == [65.0, 77.5] and front["cost"].tolist() == [100.0, 200.0]
    recs.append(record("a", 0, 300, 50.0, metrics={"accuracy": 50.0}, primary_metric="accuracy", higher_is_better=True))
    assert label_front(rows(recs))["label"].tolist() == ["m100", "m200"]  # worse and dearer: not on the front


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


def seeded_board(methods: tuple[str, ...] = ("a", "b", "c"), seeds: tuple[int, ...] = (0, 1, 2)):
    """Candidates whose cost differs between seeds (as a learned width's does), a label the method's own
    other labels dominate and, for "a", a costly label that is off its front."""
    recs = []
    for m, method in enumerate(methods):
        for seed in seeds:
            for i, (label, macs) in enumerate((("w1", 120), ("w2", 260), ("w3", 500), ("w4", 700))):
                value = 30.0 - 6 * i - 2 * m + (seed**2 * 1.5) * (-1) ** i
                recs.append(record(method, seed, macs + 10 * seed, value, label=label))
            recs.append(record(method, seed, 300 + seed, 40.0 - seed, label="bad"))  # dominated by w1
        if method == "a":
            recs += [record(method, seed, 900, 29.0 + seed, label="huge") for seed in seeds]
    return records_frame(recs)


def label_points(board, method: str, aggregate: str) -> dict[str, tuple[float, float]]:
    """Each label's (mean cost, aggregate metric) over seeds, computed here from the board's rows."""
    mine = ok_rows(board)
    mine = mine[mine["method"] == method]
    return {
        str(label): (float(g["cost"].mean()), float(getattr(g["metric"], aggregate)()))
        for label, g in mine.groupby("label")
    }


@pytest.mark.parametrize("aggregate", ["mean", "median"])
def test_every_drawn_front_vertex_is_a_label_of_existing_candidates(aggregate: str):
    import dataclasses

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    board = seeded_board()
    info = dataclasses.replace(board_info(board), aggregate=aggregate)
    fig, ax = plt.subplots()
    try:
        draw_board(ax, board, info, method_styles(["a", "b", "c"]))
        fronts = {line.get_gid()[len(FRONT_GID) :]: line for line in ax.get_lines() if line.get_gid()}
        others = [line for line in ax.get_lines() if not line.get_gid()]
        assert sorted(fronts) == ["a", "b", "c"]
        assert len(others) == 1 and set(others[0].get_xdata()) == {FULL}  # the full dense model's line
        for method, line in fronts.items():
            assert line.get_drawstyle() == "steps-post"
            points = label_points(board, method, aggregate)
            vertices = line.get_xydata()
            assert len(vertices) >= 2
            for x, y in vertices:
                assert any(x == pytest.approx(c) and y == pytest.approx(v) for c, v in points.values()), (method, x, y)
            drawn = {label for label, (c, v) in points.items() if any(np.allclose((c, v), xy) for xy in vertices)}
            assert "bad" not in drawn and "huge" not in drawn
            assert np.all(np.diff(vertices[:, 0]) > 0) and np.all(np.diff(vertices[:, 1]) < 0)  # a front
            mine = ok_rows(board)[ok_rows(board)["method"] == method]
            assert vertices[:, 0].max() <= mine["cost"].max()  # no run-on to the data's right edge
            assert vertices[:, 0].max() == pytest.approx(points["w4"][0])  # ends at its costliest front point
    finally:
        plt.close(fig)


def test_log_ticks_are_one_two_five_with_si_prefixes():
    assert log_ticks(800, 22_000) == ([1000.0, 2000.0, 5000.0, 10000.0, 20000.0], ["1k", "2k", "5k", "10k", "20k"])
    assert log_ticks(150e3, 1.2e6)[1] == ["200k", "500k", "1M"]
    assert log_ticks(3e6, 6e9)[1] == ["5M", "10M", "20M", "50M", "100M", "200M", "500M", "1G", "2G", "5G"]
    # too many for `most`: only the powers of ten, then every second one
    assert log_ticks(100, 20e6, most=12)[1] == ["100", "1k", "10k", "100k", "1M", "10M"]
    assert log_ticks(100, 20e6, most=4)[1] == ["100", "10k", "1M"]
    # narrower than two 1-2-5 ticks: even steps
    assert log_ticks(300, 900)[1] == ["400", "600", "800"]
    assert log_ticks(1200, 1800)[1] == ["1.2k", "1.4k", "1.6k", "1.8k"]
    assert log_ticks(0, 100) == ([], []) and log_ticks(5, float("nan")) == ([], [])


def test_static_cost_axis_labels_are_readable():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    board = records_frame([record("a", 0, macs, 30.0 - macs / 100, full_macs=20_000) for macs in (150, 800, 4000)])
    fig, ax = plt.subplots(figsize=(7.8, 4.8))
    try:
        draw_board(ax, board, board_info(board), method_styles(["a"]))
        fig.canvas.draw()
        low, high = ax.get_xlim()
        shown = [t.get_text() for t in ax.get_xticklabels() if low <= t.get_position()[0] <= high]
        assert shown == ["200", "500", "1k", "2k", "5k", "10k", "20k"]
        assert not [t.get_text() for t in ax.get_xticklabels(minor=True) if t.get_text()]
    finally:
        plt.close(fig)


@pytest.mark.parametrize(("size", "inches"), [("column", 3.3), ("wide", 7.0)])
def test_print_pdf_is_its_width_with_embedded_truetype_fonts_and_the_same_bytes_each_time(size: str, inches: float):
    import re

    board = seeded_board()
    pdf = pareto_pdf_bytes(board, board_info(board), size=size)
    assert pdf.startswith(b"%PDF") and pdf == pareto_pdf_bytes(board, board_info(board), size=size)
    box = re.search(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert box and float(box.group(1)) == pytest.approx(inches * 72)
    assert b"/FontFile2" in pdf and b"/Type3" not in pdf  # TrueType (pdf.fonttype 42), embedded
    assert b"/CreationDate" not in pdf and b"/Producer" not in pdf
