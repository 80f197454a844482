"""The leaderboard's numbers, its Markdown/LaTeX rendering, failed cells and theoretical MACs."""

from __future__ import annotations

import math

import pytest

from tests.records import candidate_record
from tradeoff_bench.bench.report import board_info, failed_cells, leaderboard, records_frame
from tradeoff_bench.bench.report.format import leaderboard_markdown
from tradeoff_bench.core.records import Record

FULL = 1000


def record(method: str, seed: int, macs: int | None, value: float | None, **extra) -> Record:
    return candidate_record(
        method,
        seed,
        macs,
        {} if value is None else {"mse": value},
        full_macs=FULL,
        train_seconds=10.0 * (seed + 1),
        cell_seconds=10.0 * (seed + 1),
        train_epochs=4.0,
        widths={"hidden1": 8, "hidden2": 16},
        overrides=extra,
    )


def grid() -> list[Record]:
    """2 methods x 3 seeds x 4 candidates (same numbers as the pareto tests) + one failed cell."""
    records = []
    for seed, shift in zip((0, 1, 2), (0.0, 0.04, -0.04), strict=True):
        for macs, value in zip((250, 500, 750, 1000), (0.8, 0.6, 0.4, 0.2), strict=True):
            records.append(record("alpha", seed, macs, value + shift))
    for seed, first in zip((0, 1, 2), (0.5, 0.6, 0.4), strict=True):
        for macs, value in ((250, first), (500, first), (600, 0.7), (1200, 0.1)):
            records.append(record("beta", seed, macs, value, train_epochs=2.0 if macs < 1000 else 3.0))
    records.append(
        record(
            "gamma",
            0,
            None,
            None,
            status="failed",
            label="gamma",
            error="RuntimeError: boom | out of memory\n  at line 3",
        )
    )
    return records


def board(records: list[Record]):
    return records_frame(records)


def test_rows_sorted_by_hypervolume_with_seed_spread():
    table = leaderboard(board(grid()))
    assert table["method"].tolist() == ["beta", "alpha", "gamma"]
    beta, alpha, gamma = (table.iloc[i] for i in range(3))
    assert beta["hv_mean"] == pytest.approx(0.375)
    assert beta["hv_std"] == pytest.approx(0.075)
    assert alpha["hv_mean"] == pytest.approx(0.30)
    assert alpha["hv_std"] == pytest.approx(0.03)
    assert (alpha["seeds"], alpha["candidates"], alpha["failed_cells"]) == (3, 12, 0)
    assert (gamma["seeds"], gamma["candidates"], gamma["failed_cells"]) == (0, 0, 1)
    assert math.isnan(gamma["hv_mean"])


def test_metric_at_budgets_mean_and_std_over_seeds():
    table = leaderboard(board(grid()), budgets=(0.2, 0.25, 0.5, 1.0)).set_index("method")
    assert math.isnan(table.loc["alpha", "at_0.2_mean"])
    assert table.loc["alpha", "at_0.2_seeds"] == 0
    assert table.loc["alpha", "at_0.25_mean"] == pytest.approx(0.8)
    assert table.loc["alpha", "at_0.25_std"] == pytest.approx(0.04)
    assert table.loc["alpha", "at_1_mean"] == pytest.approx(0.2)
    assert table.loc["beta", "at_1_mean"] == pytest.approx(0.5)
    assert table.loc["beta", "at_0.5_std"] == pytest.approx(0.1)


def test_best_candidate_training_time_and_epochs():
    table = leaderboard(board(grid())).set_index("method")
    assert table.loc["alpha", "best_metric"] == pytest.approx(0.16)
    assert table.loc["alpha", "best_cost"] == 1000
    assert table.loc["beta", "best_metric"] == pytest.approx(0.1)  # best overall, even beyond x_ref
    assert table.loc["beta", "best_cost_fraction"] == pytest.approx(1.2)
    assert table.loc["alpha", "train_seconds_mean"] == pytest.approx(20.0)  # one cell per seed: 10, 20, 30
    assert table.loc["alpha", "epochs"] == 4.0
    assert table.loc["beta", "epochs"] == 3.0


def test_markdown_states_the_setup_lists_methods_and_failures():
    frame = board(grid())
    info = board_info(frame)
    text = leaderboard_markdown(leaderboard(frame), info, failed_cells(frame), (0.25, 0.5, 1.0))
    for needle in (
        "| alpha |",
        "| beta |",
        "| gamma |",
        "toy-corpus",
        "`mse`",
        "lower is better",
        "MACs per example",
        "(1, 1)",
        "Seeds: 3",
        "0.375 ± 0.075",
        "## Failed cells",
        "`gamma-s0` (gamma, seed 0): RuntimeError: boom | out of memory at line 3",
    ):
        assert needle in text, needle
    assert text.index("| beta |") < text.index("| alpha |")
    assert "theoretical" not in text and "Data:" not in text


def test_notes_on_the_data_are_stated_once_in_the_header():
    records = grid()
    for r in records[:8]:
        r.corpus_notes = ["no ASV scores, so EER only"]
    records[0].corpus_notes = ["no ASV scores, so EER only", "eval: a subset"]
    frame = board(records)
    text = leaderboard_markdown(leaderboard(frame), board_info(frame), failed_cells(frame), (0.5,))
    assert "- Data: eval: a subset; no ASV scores, so EER only\n" in text


def test_theoretical_macs_are_labelled_and_measured_macs_kept():
    records = grid() + [
        record(
            "sparse", 0, FULL, 0.3, label="s90", cell_id="sparse-s0", facts={"macs_theoretical": 100, "sparsity": 0.9}
        )
    ]
    frame = board(records)
    row = frame[frame["method"] == "sparse"].iloc[0]
    assert (row["macs"], row["macs_kind"], row["cost"]) == (FULL, "theoretical", 100)
    assert row["cost_fraction"] == pytest.approx(0.1)
    table = leaderboard(frame).set_index("method")
    assert table.loc["sparse", "cost_kind"] == "theoretical"
    assert table.loc["sparse", "best_cost_kind"] == "theoretical"
    assert table.loc["sparse", "hv_mean"] == pytest.approx(0.9 * 0.7)
    text = leaderboard_markdown(table.reset_index(), board_info(frame), failed_cells(frame), (0.25, 0.5, 1.0))
    assert "| sparse † |" in text and "† MACs (and the bit-operations of those MACs) are theoretical" in text
    assert "| alpha |" in text  # measured methods carry no mark


def test_macs_kind_fact_marks_a_record_theoretical():
    frame = board([record("sparse", 0, 400, 0.3, facts={"macs_kind": "theoretical"})])
    assert frame["macs_kind"].tolist() == ["theoretical"]
    assert frame["cost"].tolist() == [400]


def test_higher_is_better_metric_ranks_by_maximum():
    def acc(method: str, seed: int, macs: int, value: float) -> Record:
        return record(
            method,
            seed,
            macs,
            None,
            metrics={"accuracy": value},
            primary_metric="accuracy",
            higher_is_better=True,
            reference_metric=10.0,
        )

    records = [acc("small", s, 250, 55.0 + s) for s in (0, 1)] + [acc("big", s, 1000, 95.0) for s in (0, 1)]
    frame = board(records)
    info = board_info(frame)
    assert (info.metric, info.unit, info.higher_is_better, info.ideal_metric) == ("accuracy", "%", True, 100.0)
    table = leaderboard(frame).set_index("method")
    # small: y = (100 - 55) / 90 = 0.5 at x = 0.25 -> 0.75 * 0.5; big sits on x_ref -> 0
    assert table.loc["small", "hv_mean"] == pytest.approx(0.75 * 0.5, abs=0.01)
    assert table.loc["big", "hv_mean"] == 0.0
    assert table.index.tolist() == ["small", "big"]
    assert table.loc["big", "best_metric"] == 95.0
    assert table.loc["small", "at_1_mean"] == pytest.approx(55.5)
    text = leaderboard_markdown(table.reset_index(), info, failed_cells(frame), (0.25, 0.5, 1.0))
    assert "higher is better" in text and "`accuracy` [%]" in text


def test_a_board_mixing_primary_metrics_is_an_error():
    records = [record("a", 0, 500, 0.5), record("b", 0, 500, None, metrics={"eer": 5.0}, primary_metric="eer")]
    with pytest.raises(ValueError, match="mixes primary metrics"):
        board_info(board(records))


def test_training_time_counts_each_cell_once_and_sums_a_seeds_cells():
    records = [
        record("gamma", 0, 100, 0.5, cell_id="c1", label="a", cell_seconds=5.0),
        record("gamma", 0, 200, 0.4, cell_id="c1", label="b", cell_seconds=5.0),
        record("gamma", 0, 300, 0.3, cell_id="c2", label="c", cell_seconds=7.0),
    ]
    table = leaderboard(board(records)).set_index("method")
    assert table.loc["gamma", "train_seconds_mean"] == pytest.approx(12.0)
