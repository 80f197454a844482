"""The latency phase: timed alone after every cell, with an interval, in eager PyTorch and ONNX Runtime."""

from __future__ import annotations

import json
from concurrent.futures import Future
from pathlib import Path

import pytest
import torch
from torch import nn

from tests.cli_args import task_settings
from tradeoff_bench.bench.cli import main
from tradeoff_bench.bench.driver import run_grid
from tradeoff_bench.bench.grid import Cell, resolve_cell
from tradeoff_bench.bench.latency import attach_latency, median_interval, time_call, torch_call
from tradeoff_bench.bench.runner import execute_cell
from tradeoff_bench.bench.store import Store
from tradeoff_bench.core.records import Record

TINY = ["--task", "synthetic", *task_settings(n_train=128, n_val=32, n_test=64, epochs=1), "--no-progress"]


class ThreadProbe(nn.Module):
    """Records how many intra-op threads each forward ran with."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.seen: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(torch.get_num_threads())
        return self.linear(x)


def test_median_interval_by_order_statistics() -> None:
    """n = 10: ranks 5 -+ 1.96 sqrt(10) / 2 = 5 -+ 3.1 -> the 2nd and the 9th smallest (0-based 1 and 8)."""
    assert median_interval([float(v) for v in range(10, 0, -1)]) == (5.5, 2.0, 9.0)
    assert median_interval([3.0]) == (3.0, 3.0, 3.0)


def test_time_call_is_single_thread_warm_and_within_its_interval() -> None:
    model = ThreadProbe()
    previous = torch.get_num_threads()
    timing = time_call(torch_call(model, torch.zeros(1, 4)), warmup=2, block_seconds=0.01, min_blocks=10)
    assert set(model.seen) == {1}
    assert torch.get_num_threads() == previous
    assert timing.ci_low_ms <= timing.median_ms <= timing.ci_high_ms and timing.median_ms > 0
    assert timing.blocks >= 10
    assert timing.converged == (timing.half_width <= 0.05)


def test_time_call_restores_threads_when_the_call_fails() -> None:
    previous = torch.get_num_threads()

    def boom() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        time_call(boom)
    assert torch.get_num_threads() == previous


class OrderedExecutor:
    """Completes each cell's future only when the driver waits, logging every event in order."""

    capacity = 2

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.futures: list[Future[list[Record]]] = []

    def submit(self, cell: Cell) -> Future[list[Record]]:
        future: Future[list[Record]] = Future()
        self.log.append(f"train {cell.seed}")
        future.set_result(execute_cell(cell))
        self.futures.append(future)
        return future

    def close(self) -> None:
        self.log.append("close")


def test_latency_phase_runs_only_after_every_cell_is_done_and_the_executor_closed(tmp_path: Path) -> None:
    log: list[str] = []
    executor = OrderedExecutor(log)
    settings = {"n_train": 64, "n_val": 32, "n_test": 32, "epochs": 1}
    cells = [resolve_cell("synthetic", settings, "dense", {"multipliers": [1.0]}, seed) for seed in (0, 1, 2)]

    def phase() -> None:
        assert all(f.done() for f in executor.futures) and len(executor.futures) == 3
        log.append("latency")

    run_grid(cells, Store(tmp_path), executor, progress=False, after_cells=phase)
    assert log == ["train 0", "train 1", "train 2", "close", "latency"]
    log.clear()
    run_grid(cells, Store(tmp_path), executor, progress=False, after_cells=lambda: log.append("latency"))
    assert log == ["latency"]  # nothing left to train: the phase still runs, alone


def test_run_times_every_candidate_and_a_rerun_keeps_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    args = ["run", *TINY, "--method", "dense", "--set", "multipliers=[0.5,1.0]", "--out", str(out)]
    assert main(args) == 0
    records = attach_latency(Store(out).records(), out)
    assert len(records) == 2
    for record in records:
        assert record.latency_ci_low_ms <= record.latency_ms <= record.latency_ci_high_ms
        assert record.onnx_latency_ci_low_ms <= record.onnx_latency_ms <= record.onnx_latency_ci_high_ms
        assert record.full_costs["latency_ms"] > 0 and record.full_costs["onnx_latency_ms"] > 0
        assert record.full_costs["macs"] == record.full_macs
    side = json.loads((out / "latency" / f"{records[0].record_id}.json").read_text())
    assert side["latency_timing"]["blocks"] >= 10
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "latency").iterdir()}
    assert main(["latency", str(out)]) == 0
    assert {p.name: p.stat().st_mtime_ns for p in (out / "latency").iterdir()} == stamps
    assert "timed 0 candidates, 2 timed earlier" in capsys.readouterr().err
    assert main(["report", str(out), "--cost", "latency", "--to", str(tmp_path / "report")]) == 0
    board = (tmp_path / "report" / "synthetic" / "leaderboard.md").read_text()
    assert "@ ≤25% latency ms" in board and "full dense model: " in board
    assert (tmp_path / "report" / "synthetic" / "leaderboard.onnx_latency_ms.csv").is_file()


def test_no_latency_skips_the_phase_and_int8_gets_a_note(tmp_path: Path) -> None:
    out = tmp_path / "run"
    quantized = ["--method", "quantization", "--set", "modes=['dynamic']", "--set", "calibration_batches=1"]
    assert main(["run", *TINY, *quantized, "--out", str(out), "--no-latency"]) == 0
    assert not (out / "latency").exists()
    assert main(["latency", str(out), "--max-seconds", "2"]) == 0
    [record] = attach_latency(Store(out).records(), out)
    assert record.latency_ms is not None and record.latency_ms > 0
    assert record.onnx_latency_ms is None and "do not export" in record.latency_notes["onnx"]
