"""`report --cost AXIS`: the board on bit-operations, bytes, memory and latency, not only MACs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.records import candidate_record
from tradeoff_bench.bench.cli import main
from tradeoff_bench.bench.report import leaderboard, records_frame, write_report
from tradeoff_bench.bench.report.axes import COST_AXES, cost_axis
from tradeoff_bench.core.records import Record

FULL = {"macs": 1000, "bops": 1000 * 1024, "weight_bytes": 4000, "peak_activation_bytes": 800, "latency_ms": 2.0}


def record(method: str, seed: int, label: str, macs: int, value: float, **costs: float) -> Record:
    """A candidate of a float model unless `costs` say otherwise (bops = MACs x 1024, 4 bytes a weight)."""
    fields = {
        "bops": macs * 1024,
        "weight_bytes": 4 * macs,
        "peak_activation_bytes": 800,
        "latency_ms": 2.0 * macs / 1000,
        **costs,
    }
    return candidate_record(
        method, seed, macs, {"mse": value}, full_macs=1000, overrides={"label": label, "full_costs": FULL, **fields}
    )


def board() -> list[Record]:
    """dense at x0.25 / x0.5 / x1, and quantization's int8 model: the float graph's MACs, 1/16 of the
    bit-operations, about a quarter of the bytes, and a latency the int8 kernels halve."""
    records = []
    for seed in (0, 1):
        records += [
            record("dense", seed, "x0.25", 250, 0.6),
            record("dense", seed, "x0.5", 500, 0.4),
            record("dense", seed, "x1", 1000, 0.2),
            record("quantization", seed, "int8", 1000, 0.21, bops=1000 * 64, weight_bytes=1100, latency_ms=1.0),
        ]
    return records


def test_quantization_has_no_hypervolume_on_macs_but_has_one_on_bops_and_bytes() -> None:
    tables = {axis: leaderboard(records_frame(board(), axis)).set_index("method") for axis in COST_AXES}
    assert tables["macs"].loc["quantization", "hv_mean"] == 0
    assert pd.isna(tables["macs"].loc["quantization", "at_0.25_mean"])
    # bops: 64 / 1024 = 6.25 % of the full model -> hypervolume (1 - 0.0625) x (1 - 0.21)
    assert tables["bops"].loc["quantization", "hv_mean"] == pytest.approx((1 - 1 / 16) * (1 - 0.21))
    assert tables["bops"].loc["quantization", "at_0.25_mean"] == pytest.approx(0.21)
    assert tables["weight_bytes"].loc["quantization", "at_0.5_mean"] == pytest.approx(0.21)
    assert tables["weight_bytes"].loc["quantization", "best_cost"] == 1100
    assert tables["latency_ms"].loc["quantization", "at_0.5_mean"] == pytest.approx(0.21)
    assert tables["bops"].loc["quantization", "hv_mean"] > tables["bops"].loc["dense", "hv_mean"]
    # no ONNX latency on this board: no candidate is ranked, nothing is invented
    assert tables["onnx_latency_ms"]["candidates"].sum() == 0


def test_theoretical_macs_scale_bops_but_not_measured_axes() -> None:
    sparse = record("magnitude", 0, "s", 1000, 0.3, facts={"macs_theoretical": 200})
    frame = {axis: records_frame([sparse], axis).iloc[0] for axis in ("macs", "bops", "latency_ms")}
    assert (frame["macs"]["cost"], frame["macs"]["cost_kind"]) == (200, "theoretical")
    assert (frame["bops"]["cost"], frame["bops"]["cost_kind"]) == (200 * 1024, "theoretical")
    assert (frame["latency_ms"]["cost"], frame["latency_ms"]["cost_kind"]) == (2.0, "measured")


def test_old_records_without_full_costs_keep_their_macs_and_bops_budgets() -> None:
    old = candidate_record("dense", 0, 500, {"mse": 0.4}, full_macs=1000, overrides={"bops": 500 * 1024})
    assert records_frame([old], "macs").iloc[0]["cost_fraction"] == 0.5
    assert records_frame([old], "bops").iloc[0]["cost_fraction"] == 0.5
    assert pd.isna(records_frame([old], "weight_bytes").iloc[0]["cost_fraction"])


def test_axis_names_and_aliases() -> None:
    assert cost_axis("latency").name == "latency_ms" and cost_axis("onnx_latency").name == "onnx_latency_ms"
    with pytest.raises(KeyError, match="bops"):
        cost_axis("flops")


def test_report_writes_every_axis_and_ranks_by_the_chosen_one(tmp_path: Path) -> None:
    write_report(board(), tmp_path, cost="bops")
    main_table = (tmp_path / "toy" / "leaderboard.md").read_text()
    assert "@ ≤25% bit-ops" in main_table and "full dense model: 1.02M bit-ops" in main_table
    for axis in COST_AXES:
        assert (tmp_path / "toy" / f"leaderboard.{axis}.csv").is_file()
    assert "@ ≤25% MACs" in (tmp_path / "toy" / "leaderboard.macs.md").read_text()
    assert "@ ≤25% latency ms" in (tmp_path / "toy" / "leaderboard.latency_ms.md").read_text()


def test_report_help_lists_the_axes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert all(axis in text for axis in COST_AXES)


def test_cost_vs_latency_lists_the_candidates_cheap_only_on_paper(tmp_path: Path) -> None:
    """quantization's int8 model keeps the float MACs (not listed: its MACs are not lower); a pruned
    model at half the MACs that is slower than dense x1 is listed; dense's own ladder ranks exactly."""
    from tradeoff_bench.bench.report.leaderboard import board_info
    from tradeoff_bench.bench.report.real_cost import cost_vs_latency_markdown, paper_only_savings, rank_correlation

    records = [*board(), record("pruned", 0, "p50", 500, 0.3, latency_ms=2.5)]
    frame = records_frame(records)
    rows = frame[frame["method"] == "dense"]
    corr = rank_correlation(rows)
    assert corr.rho == pytest.approx(1.0) and corr.candidates == 6
    found, macs, latency = paper_only_savings(frame)
    assert (macs, latency) == (1000, 2.0)
    assert found["label"].tolist() == ["p50"]
    text = cost_vs_latency_markdown(frame, board_info(frame))
    assert "| pruned | p50 | 0 | 500 | 50% |" in text and "1 of 5" in text
    assert rank_correlation(frame.iloc[:2]).candidates == 2 and pd.isna(rank_correlation(frame.iloc[:2]).rho)
    write_report(records, tmp_path)
    assert "Spearman" in (tmp_path / "toy" / "cost_vs_latency.md").read_text()
