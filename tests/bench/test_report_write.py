"""write_report: the files per task, the index, determinism and atomic writes."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pandas as pd
import pytest

from tests.records import candidate_record
from tradeoff_bench.bench.files import atomic_write
from tradeoff_bench.bench.report import write_report
from tradeoff_bench.core.records import Record

AXIS_FILES = tuple(
    f"leaderboard.{axis}.{ext}"
    for axis in ("macs", "bops", "weight_bytes", "peak_activation_bytes", "latency_ms", "onnx_latency_ms")
    for ext in ("md", "csv")
) + ("cost_vs_latency.md", "target.md")
FILES = (
    "leaderboard.md",
    "leaderboard.csv",
    "candidates.csv",
    "records.jsonl.gz",
    "replicates.jsonl.gz",
    *AXIS_FILES,
    "table.tex",
    "table-wide.tex",
    "pareto.png",
    "pareto.svg",
    "pareto.column.pdf",
    "pareto.wide.pdf",
)


def record(task: str, method: str, seed: int, macs: int, value: float, **extra) -> Record:
    higher = task == "acc"
    metric = "accuracy" if higher else "mse"
    return candidate_record(
        method,
        seed,
        macs,
        {metric: value},
        full_macs=1_000_000,
        primary_metric=metric,
        cell_id=f"{task}-{method}-s{seed}",
        task=task,
        corpus=f"{task}-corpus",
        label=f"w{macs}",
        higher_is_better=higher,
        reference_metric=10.0 if higher else 1.0,
        train_seconds=3.5,
        train_epochs=5,
        cost_unit="second of audio",
        widths={"conv1": macs // 10_000, "conv2": 8},
        overrides=extra,
    )


def records() -> list[Record]:
    out = []
    for seed in (0, 1, 2):
        for i, macs in enumerate((125_000, 250_000, 500_000, 1_000_000)):
            out.append(record("mse", "dense", seed, macs, 0.6 - 0.1 * i + 0.01 * seed))
            out.append(record("mse", "slimmable", seed, macs, 0.5 - 0.1 * i - 0.01 * seed))
            out.append(record("acc", "dense", seed, macs, 60.0 + 10 * i + seed))
            out.append(record("acc", "slimmable", seed, macs, 65.0 + 8 * i - seed))
    failed = record("mse", "pruning", 0, 0, 0.0)
    failed.status, failed.label, failed.macs, failed.metrics = "failed", "pruning", None, {}
    failed.error = "ValueError: no prunable layers"
    out.append(failed)
    return out


def test_writes_every_file_per_task_and_the_index(tmp_path: Path):
    written = write_report(records(), tmp_path)
    expected = [tmp_path / task / name for task in ("acc", "mse") for name in FILES]
    expected += [tmp_path / name for name in ("overview.png", "overview.svg", "index.html", "README.md")]
    assert written == expected
    assert all(path.stat().st_size > 0 for path in written)
    assert '<section class="board" id="acc">' in (tmp_path / "index.html").read_text()
    assert (tmp_path / "mse" / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (tmp_path / "mse" / "pareto.svg").read_bytes()
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]

    readme = (tmp_path / "README.md").read_text()
    assert "[mse (mse-corpus)](mse/leaderboard.md)" in readme and "](acc/pareto.png)" in readme
    assert "![Pareto fronts of every task](overview.png)" in readme and "(index.html)" in readme
    assert "| slimmable |" in readme and "ValueError: no prunable layers" in readme

    board = pd.read_csv(tmp_path / "mse" / "leaderboard.csv")
    assert board["method"].tolist() == ["slimmable", "dense", "pruning"]
    assert {"hv_mean", "hv_std", "at_0.25_mean", "at_0.25_std", "epochs"} <= set(board.columns)
    assert board["hv_mean"].dtype == float and not board.astype(str).apply(lambda c: c.str.contains("±")).any().any()

    candidates = pd.read_csv(tmp_path / "acc" / "candidates.csv")
    assert len(candidates) == 24 and candidates["widths"].iloc[0] == "conv1=12,conv2=8"
    assert {"macs", "macs_fraction", "macs_kind", "metric", "latency_ms", "train_seconds"} <= set(candidates.columns)

    acc = (tmp_path / "acc" / "leaderboard.md").read_text()
    assert "accuracy` [%], higher is better" in acc and "MACs per second of audio" in acc


def test_same_records_in_any_order_give_identical_bytes(tmp_path: Path):
    recs = records()
    first = write_report(recs, tmp_path / "a")
    random.Random(0).shuffle(recs)
    second = write_report(recs, tmp_path / "b")
    for one, two in zip(first, second, strict=True):
        assert one.relative_to(tmp_path / "a") == two.relative_to(tmp_path / "b")
        assert one.read_bytes() == two.read_bytes(), one.name


def test_plot_marks_theoretical_macs(tmp_path: Path):
    recs = records() + [record("mse", "sparse", 0, 1_000_000, 0.3, facts={"macs_theoretical": 200_000})]
    write_report(recs, tmp_path)
    assert "theoretical MACs" in (tmp_path / "mse" / "pareto.svg").read_text()
    assert (
        "† MACs (and the bit-operations of those MACs) are theoretical"
        in (tmp_path / "mse" / "leaderboard.md").read_text()
    )
    candidates = pd.read_csv(tmp_path / "mse" / "candidates.csv").set_index("method")
    assert candidates.loc["sparse", "macs"] == 1_000_000  # the measured dense count stays
    assert candidates.loc["sparse", "macs_kind"] == "theoretical"


def test_a_task_with_two_corpora_gets_one_folder_per_corpus(tmp_path: Path):
    recs = [record("mse", "dense", 0, 500_000, 0.4), record("mse", "dense", 0, 500_000, 0.2, corpus="other")]
    written = write_report(recs, tmp_path)
    assert {p.parent.name for p in written if p.name == "leaderboard.md"} == {"mse__mse_corpus", "mse__other"}


def test_a_task_with_two_model_families_gets_one_board_per_family(tmp_path: Path):
    recs = [
        record(
            "mse", method, seed, macs, 0.4, cell_id=f"{model}-{method}-{seed}-{macs}", task_settings={"model": model}
        )
        for model in ("small", "big")
        for method in ("dense", "slimmable")
        for seed in (0, 1)
        for macs in (500_000, 1_000_000)
    ]
    written = write_report(recs, tmp_path)
    boards = {p.parent.name for p in written if p.name == "leaderboard.md"}
    assert boards == {"mse__mse_corpus__model=big", "mse__mse_corpus__model=small"}
    for board in boards:
        candidates = pd.read_csv(tmp_path / board / "candidates.csv")
        assert len(candidates) == 8 and candidates["cell_id"].str.startswith(board.rsplit("=", 1)[1]).all()


def test_one_model_family_keeps_the_corpus_name(tmp_path: Path):
    recs = [record("mse", "dense", 0, 500_000, 0.4, task_settings={"model": "small"})]
    written = write_report(recs, tmp_path)
    assert {p.parent.name for p in written if p.name == "leaderboard.md"} == {"mse"}


def test_atomic_write_leaves_old_file_whole_when_interrupted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    target = tmp_path / "leaderboard.md"
    atomic_write(target, "old")

    def killed(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, "new contents")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["leaderboard.md"]


def test_a_task_whose_cells_all_failed_is_still_reported(tmp_path: Path):
    failed = record("mse", "pruning", 0, 0, 0.0)
    failed.status, failed.macs, failed.metrics, failed.error = "failed", None, {}, "OSError: disk full"
    written = write_report([failed], tmp_path)
    assert [p.name for p in written] == [*FILES, "overview.png", "overview.svg", "index.html", "README.md"]
    text = (tmp_path / "mse" / "leaderboard.md").read_text()
    assert "| pruning | 0 | 0 | – |" in text and "OSError: disk full" in text
    assert "no successful candidates" in (tmp_path / "mse" / "pareto.svg").read_text()


def test_no_records_give_an_index_only(tmp_path: Path):
    assert write_report([], tmp_path) == [tmp_path / "index.html", tmp_path / "README.md"]
    assert "No records." in (tmp_path / "README.md").read_text()
    assert "<p>No records.</p>" in (tmp_path / "index.html").read_text()
