"""Paired verdicts against dense and intervals over seeds and items, on records with score files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.records import candidate_record
from tradeoff_bench.bench.report import board_info, failed_cells, leaderboard, records_frame, write_report
from tradeoff_bench.bench.report.bootstrap import board_replicates, with_intervals
from tradeoff_bench.bench.report.format import leaderboard_markdown
from tradeoff_bench.bench.report.frame import ok_rows
from tradeoff_bench.bench.report.verdicts import (
    BETTER,
    UNRESOLVED,
    WORSE,
    budget_intervals,
    dense_verdicts,
    probability_of_improvement,
)
from tradeoff_bench.core.records import Record

FULL = 1000
ITEMS, ROWS = 300, 10


def scored(tmp: Path, method: str, seed: int, macs: int, shift: float, **facts) -> Record:
    """A vad-like candidate whose frame scores separate the classes by `shift` (larger: lower EER)."""
    rng = np.random.default_rng(1000 * seed + macs + int(shift * 10))
    item = np.repeat(np.arange(ITEMS), ROWS)
    label = np.repeat(np.arange(ITEMS) % 2, ROWS).astype(np.float32)  # the same test items for everyone
    score = (label * shift + rng.normal(0, 1, item.size)).astype(np.float32)
    from tradeoff_bench.tasks.scoring import equal_error_rate

    eer = 100 * equal_error_rate(score[label == 1], score[label == 0])[0]
    record = candidate_record(
        method,
        seed,
        macs,
        {"eer": eer},
        full_macs=FULL,
        primary_metric="eer",
        task="vad",
        corpus="toy",
        cost_unit="second",
        facts=facts,
    )
    relative = f"outputs/{record.record_id}/scores.npz"
    (tmp / relative).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(tmp / relative, item=item, label=label, score=score)
    record.outputs = [relative]
    return record


def grid(tmp: Path) -> list[Record]:
    records = []
    for seed in range(3):
        records += [scored(tmp, "dense", seed, 500, 1.0), scored(tmp, "dense", seed, 1000, 1.6)]
        records += [scored(tmp, "good", seed, 480, 2.0)]  # far better than dense at half the cost
        records += [scored(tmp, "same", seed, 490, 1.0)]  # dense's own quality: no verdict
    records += [scored(tmp, "bad", 0, 240, 0.2, converged=False)]
    return records


def test_verdicts_resolve_real_differences_and_not_noise(tmp_path: Path):
    frame = records_frame(grid(tmp_path))
    ok = ok_rows(frame)
    reps = board_replicates(ok, {rid: tmp_path for rid in ok["record_id"]}, n_resamples=400, cache=tmp_path / "cache")
    verdicts = dense_verdicts(ok, reps, higher_is_better=False).set_index(["method", "budget"])
    assert verdicts.loc[("good", 0.5), "verdict"] == BETTER and verdicts.loc[("good", 0.5), "diff"] < 0
    assert verdicts.loc[("good", 0.5), "pairs"] == 3 and verdicts.loc[("good", 0.5), "over"] == "seeds and items"
    assert verdicts.loc[("same", 0.5), "verdict"] == UNRESOLVED
    assert (
        verdicts.loc[("good", 0.5), "ci_low"]
        < verdicts.loc[("good", 0.5), "diff"]
        < verdicts.loc[("good", 0.5), "ci_high"]
    )
    assert ("bad", 0.25) not in verdicts.index  # dense has nothing that cheap: no pair
    assert verdicts.loc[("good", 0.75), "verdict"] == BETTER
    intervals = budget_intervals(ok, reps, [0.5], "mean").set_index(["method", "budget"])
    low, high = intervals.loc[("dense", 0.5), ["ci_low", "ci_high"]]
    point = ok[(ok["method"] == "dense") & (ok["macs"] == 500)]["metric"].mean()
    assert low < point < high


def test_without_scores_a_single_seed_pair_is_never_resolved():
    rows = pd.DataFrame(
        {
            "task": "t",
            "corpus": "c",
            "method": ["dense", "x"],
            "seed": 0,
            "record_id": ["d", "x"],
            "metric": [30.0, 5.0],
            "cost_fraction": 0.5,
            "higher_is_better": False,
        }
    )
    from tradeoff_bench.bench.report.bootstrap import Replicates

    verdicts = dense_verdicts(rows, Replicates(), higher_is_better=False, budgets=[0.5])
    assert verdicts["verdict"].tolist() == [UNRESOLVED] and verdicts["over"].tolist() == ["seeds"]


def test_report_lists_intervals_verdicts_and_unconverged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TRADEOFF_BENCH_CACHE", str(tmp_path / "cache"))
    records = grid(tmp_path / "run")
    frame = with_intervals(records_frame(records), board_replicates(ok_rows(records_frame(records)), {}))
    assert (frame["metric_ci_note"] == "no per-item scores file").all()  # no run directory given
    write_report(records, tmp_path / "out", run_dirs={r.record_id: tmp_path / "run" for r in records})
    assert len(list((tmp_path / "cache" / "bootstrap").glob("*.npy"))) == len(records)
    text = (tmp_path / "out" / "vad" / "leaderboard.md").read_text()
    assert "Comparisons with `dense` resolved: ≤50% MACs: 2 of 3; ≤75% MACs: 2 of 3" in text
    candidates = pd.read_csv(tmp_path / "out" / "vad" / "candidates.csv")
    assert candidates["metric_ci_low"].notna().all() and (candidates["metric_ci_low"] <= candidates["metric"]).all()
    table = pd.read_csv(tmp_path / "out" / "vad" / "leaderboard.csv").set_index("method")
    assert table.loc["bad", "unconverged"] == 1 and table.loc["good", "unconverged"] == 0
    assert table.loc["good", "vs_dense_0.5_verdict"] == BETTER
    assert table.loc["bad", "vs_dense_0.5_verdict"] == WORSE  # one seed, but 300 items resolve it
    assert table.loc["good", "vs_dense_0.5_p_better"] > 0.5 > table.loc["bad", "vs_dense_0.5_p_better"]


def test_a_report_without_scores_says_so_once_and_resolves_nothing(tmp_path: Path):
    records = grid(tmp_path / "run")
    frame = records_frame(records)
    text = leaderboard_markdown(leaderboard(frame), board_info(frame), failed_cells(frame), (0.5,))
    assert "] (seeds only)" not in text and "0 of 3" in text  # the header explains the mark; no cell has it
    assert "No candidate of this table kept per-item scores" in text


def test_probability_of_improvement_counts_seed_pairs_with_ties_as_half():
    mine, theirs = [1.0, 2.0, 3.0], [2.0, 4.0]  # lower is better: 4 wins, 1 tie, 1 loss of 6 pairs
    assert probability_of_improvement(mine, theirs, higher_is_better=False) == pytest.approx(4.5 / 6)
    assert probability_of_improvement(mine, theirs, higher_is_better=True) == pytest.approx(1.5 / 6)
    assert np.isnan(probability_of_improvement([], theirs, higher_is_better=True))
