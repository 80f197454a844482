"""The learning-curve table (`tradeoff-bench curves`): one row per schedule, gaps to the best within a recipe."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.cli_args import TINY_SYNTHETIC, task_settings
from tests.records import candidate_record
from tradeoff_bench.bench.cli import main
from tradeoff_bench.bench.report.curves import curve_markdown, curve_table
from tradeoff_bench.core.records import Record


def fit_record(seed: int, epochs: int, lr: float, dev: float, dev_loss: float, test: float, converged: bool) -> Record:
    history = [
        {"epoch": 1, "dev": dev + 5, "dev_loss": dev_loss + 1, "selected": False},
        {"epoch": 2, "dev": dev, "dev_loss": dev_loss, "selected": True},
    ]
    return candidate_record(
        "dense",
        seed,
        100,
        {"eer": test},
        full_macs=100,
        primary_metric="eer",
        label="x1",
        task_settings={"epochs": epochs, "lr": lr, "n_val": 200},
        train_seconds=10.0 * epochs,
        facts={"history": history, "converged": converged},
    )


def test_curve_table_means_seeds_per_schedule_and_measures_gaps_within_a_recipe() -> None:
    records = [
        fit_record(0, 24, 0.01, dev=12.0, dev_loss=0.4, test=11.0, converged=False),
        fit_record(1, 24, 0.01, dev=14.0, dev_loss=0.2, test=13.0, converged=True),
        fit_record(0, 48, 0.01, dev=10.0, dev_loss=0.3, test=9.0, converged=True),
        fit_record(0, 48, 0.003, dev=0.0, dev_loss=0.5, test=20.0, converged=True),
        fit_record(0, 96, 0.003, dev=0.0, dev_loss=0.25, test=18.0, converged=True),
    ]
    table = curve_table(records).set_index(["recipe", "epochs"])
    assert table.loc[("lr=0.01", 24), ["seeds", "dev", "dev_loss", "test", "converged"]].tolist() == [
        2,
        13.0,
        pytest.approx(0.3),
        12.0,
        1,
    ]
    assert table.loc[("lr=0.01", 24), "dev_gap"] == pytest.approx(0.3)  # (13 - 10) / 10
    assert table.loc[("lr=0.01", 48), "dev_gap"] == 0.0
    assert table.loc[("lr=0.003", 48), "dev_gap"] == 0.0  # both at a saturated 0: the dev loss tells them apart
    assert table.loc[("lr=0.003", 48), "dev_loss_gap"] == pytest.approx(1.0)
    assert table.loc[("lr=0.01", 24), "train_seconds"] == 240.0
    text = curve_markdown(curve_table(records))
    assert "| toy | `toy-corpus` | x1 | lr=0.01 | 24 | 2 | 13 | 0.3 | 12 | 1 of 2 | 240 | 30.0 % | 0.0 % |" in text


def test_curve_table_marks_a_gap_to_a_saturated_best_as_infinite() -> None:
    records = [
        fit_record(0, 5, 0.01, dev=2.5, dev_loss=0.4, test=5.0, converged=True),
        fit_record(0, 10, 0.01, dev=0.0, dev_loss=0.1, test=3.0, converged=True),
    ]
    table = curve_table(records).set_index("epochs")
    assert math.isinf(table.loc[5, "dev_gap"]) and table.loc[5, "recipe"] == ""
    assert "| default | 5 |" in curve_markdown(curve_table(records))


def test_curves_command_reads_a_run_and_writes_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    args = ["run", *TINY_SYNTHETIC, "--method", "dense", "--set", "multipliers=[1.0]", "--seeds", "0"]
    for epochs in (1, 2):
        assert main([*args, *task_settings(epochs=epochs), "--out", str(run), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["curves", str(run), "--csv", str(tmp_path / "curves.csv")]) == 0
    out = capsys.readouterr().out
    assert out.count("| synthetic |") == 2 and (tmp_path / "curves.csv").read_text().startswith("task,corpus")
    assert main(["curves", str(tmp_path)]) == 2  # not a run directory: a clear error
