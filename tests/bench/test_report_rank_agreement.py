"""Kendall's τ between the proxy and the real test's rankings, with its interval over seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.records import candidate_record
from tradeoff_bench.bench.report import records_frame, write_report
from tradeoff_bench.bench.report.rank_agreement import NOT_SHOWN, REVERSED, SURVIVES, rank_agreement
from tradeoff_bench.core.records import Record

FULL = 1000
METHODS = ("a", "b", "c", "d", "e")


def board(real_order: list[int], noise: float = 0.1, seeds: int = 5, with_real: bool = True) -> list[Record]:
    """Methods a..e whose proxy EER rises with their index and whose real EER follows `real_order`
    (the rank of each method on the real test); one candidate per seed at half the MACs."""
    rng = np.random.default_rng(0)
    records = []
    for rank, method in enumerate(METHODS):
        for seed in range(seeds):
            metrics = {"eer": 10 + rank + rng.normal(0, noise)}
            if with_real:
                metrics["eer@real"] = 20 + real_order[rank] + rng.normal(0, noise)
            records.append(
                candidate_record(
                    method, seed, FULL // 2, metrics, full_macs=FULL, primary_metric="eer", task="vad", corpus="toy"
                )
            )
    return records


def agreement(records: list[Record]):
    return rank_agreement(records_frame(records), budgets=(0.5,))


def test_the_same_order_survives_and_a_reversed_one_is_reversed():
    same = agreement(board([0, 1, 2, 3, 4])).iloc[0]
    assert same["tau"] == pytest.approx(1.0) and same["verdict"] == SURVIVES
    assert same["proxy_best"] == same["real_best"] == "a"
    flipped = agreement(board([4, 3, 2, 1, 0])).iloc[0]
    assert flipped["tau"] == pytest.approx(-1.0) and flipped["verdict"] == REVERSED
    assert flipped["real_best"] == "e" and flipped["ci_high"] < 0


def test_an_unrelated_order_is_not_shown_to_survive():
    row = agreement(board([0, 3, 4, 2, 1], noise=0.5)).iloc[0]
    assert row["tau"] == pytest.approx(0.0) and row["verdict"] == NOT_SHOWN
    assert row["ci_low"] <= 0 <= row["ci_high"]


def test_a_board_without_a_real_test_has_no_agreement_section(tmp_path: Path):
    assert agreement(board([0, 1, 2, 3, 4], with_real=False)).empty
    write_report(board([0, 1, 2, 3, 4], with_real=False), tmp_path)
    assert "Proxy test versus real test" not in (tmp_path / "vad" / "leaderboard.md").read_text()
    assert not (tmp_path / "vad" / "rank_agreement.csv").exists()


def test_the_board_is_marked_where_the_real_test_disagrees(tmp_path: Path):
    write_report(board([1, 0, 2, 3, 4]), tmp_path)  # the real test's best is b
    text = (tmp_path / "vad" / "leaderboard.md").read_text()
    assert "the board's ranking changes** (≤50% MACs: best `b`, not `a`;" in text
    assert "rank_agreement.csv" in {p.name for p in (tmp_path / "vad").iterdir()}
    write_report(board([0, 1, 2, 3, 4]), tmp_path)
    assert "survives on the real test at every budget" in (tmp_path / "vad" / "leaderboard.md").read_text()
