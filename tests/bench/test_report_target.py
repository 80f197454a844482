"""Cost at a quality target: per method the least cost on each axis among candidates reaching it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.test_report_axes import board, record
from tradeoff_bench.bench.cli import main
from tradeoff_bench.bench.report import board_info, records_frame, write_report
from tradeoff_bench.bench.report.target import target_markdown, target_table
from tradeoff_bench.tasks.targets import QualityTarget


def table_of(records, target: QualityTarget):
    frame = records_frame(records)
    return target_table(records, frame, board_info(frame), target).set_index(["method", "axis"])


def test_target_parse_and_threshold() -> None:
    assert QualityTarget.parse("5%") == QualityTarget(0.05, relative=True)
    assert QualityTarget.parse("+1") == QualityTarget(1.0)
    assert QualityTarget(1.0).threshold(10.0, higher_is_better=False) == 11.0
    assert QualityTarget(0.05, relative=True).threshold(0.2, higher_is_better=True) == pytest.approx(0.19)
    with pytest.raises(ValueError, match="tolerance"):
        QualityTarget.parse("tight")


def test_least_cost_reaching_the_target_by_hand() -> None:
    """dense x1 has mse 0.2; at 5 % the threshold is 0.21: only dense x1 (0.2) and int8 (0.21) reach it."""
    table = table_of(board(), QualityTarget(0.05, relative=True))
    assert table.loc[("dense", "macs"), "cost_median"] == 1000
    assert table.loc[("quantization", "bops"), "cost_median"] == 64_000
    assert table.loc[("quantization", "weight_bytes"), "fraction_median"] == pytest.approx(1100 / 4000)
    assert table.loc[("quantization", "latency_ms"), "seeds_reached"] == 2
    # at 1 %, int8 (0.21 > 0.202) falls short on every seed: counted, not imputed
    strict = table_of(board(), QualityTarget(0.01, relative=True))
    assert strict.loc[("quantization", "bops"), "seeds_reached"] == 0
    # at +0.25 (absolute), dense x0.5 (0.4) reaches it: dense's least MACs drop to 500
    loose = table_of(board(), QualityTarget(0.25))
    assert loose.loc[("dense", "macs"), "cost_median"] == 500


def test_seeds_that_differ_give_an_interval() -> None:
    records = [*board(), record("pruned", 0, "p", 300, 0.2), record("pruned", 1, "p", 600, 0.2)]
    row = table_of(records, QualityTarget(0.05, relative=True)).loc[("pruned", "macs")]
    assert (row["cost_median"], row["cost_min"], row["cost_max"], row["seeds_reached"]) == (450, 300, 600, 2)
    frame = records_frame(records)
    text = target_markdown(
        target_table(records, frame, board_info(frame), QualityTarget(0.05, relative=True)),
        board_info(frame),
        QualityTarget(0.05, relative=True),
    )
    assert "450 45% [300, 600] (2/2)" in text


def test_report_writes_the_task_target_and_the_cli_overrides_it(tmp_path: Path) -> None:
    records = [
        *(r.__class__(**{**r.__dict__, "quality_target": {"tolerance": 0.01, "relative": True}}) for r in board())
    ]
    write_report(records, tmp_path)
    assert "within 1 % of the full dense model" in (tmp_path / "toy" / "target.md").read_text()
    write_report(records, tmp_path, targets={"toy": QualityTarget(0.05, relative=True)})
    assert "within 5 %" in (tmp_path / "toy" / "target.md").read_text()


def test_a_bad_target_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path), "--target", "vad=tight"]) == 2
    assert "--target: quality target 'tight'" in capsys.readouterr().err
