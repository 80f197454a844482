"""The paper-versus-suite table: published rows as ratios to their baseline, suite rows paired by seed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradeoff_bench.bench.grid import load_grid
from tradeoff_bench.bench.report import records_frame
from tradeoff_bench.bench.report.paper import paper_table, published_rows
from tradeoff_bench.bench.report.write import write_report
from tradeoff_bench.core.records import Record

REPO = Path(__file__).resolve().parents[2]
CRNN = {"model": "crnn", "epochs": 6}


def record(method: str, seed: int, label: str, macs: int, eer: float, settings: dict, widths: dict) -> Record:
    return Record(
        cell_id=f"{method}-{label}-{seed}",
        task="vad",
        corpus="vctk-mini+esc50-mini",
        method=method,
        seed=seed,
        label=label,
        status="ok",
        macs=macs,
        full_macs=1000,
        params=100,
        metrics={"eer": eer},
        primary_metric="eer",
        higher_is_better=False,
        reference_metric=50.0,
        settings=settings,
        task_settings=CRNN,
        widths=widths,
    )


def records() -> list[Record]:
    full = {"mels": 80, "conv": 32, "gru": 32}
    found = []
    for seed, shift in ((0, 0.0), (1, 1.0)):
        found.append(record("dense", seed, "x1", 1000, 9.0 + shift, {"multipliers": [1.0], "widths": {}}, full))
        found.append(
            record(
                "dcl",
                seed,
                "dcl-mels",
                600,
                9.5 + shift,
                {"mode": "penalty", "kappa_min": 0.5, "knobs": ["mels"]},
                {**full, "mels": 40},
            )
        )
        found.append(
            record(
                "dense",
                seed,
                "x1-mels40",
                600,
                9.25 + shift,
                {"multipliers": [1.0], "widths": {"mels": 40}},
                {**full, "mels": 40},
            )
        )
        found.append(
            record("dcl", seed, "dcl", 300, 20.0, {"mode": "penalty", "kappa_min": 0.5, "knobs": None}, full)
        )  # all knobs
    return found


def test_published_rows_hold_the_papers_anchors() -> None:
    rows = {row["system"]: row for row in published_rows()}
    assert rows["CRNN baseline"]["eer"] == "9.01" and rows["Transformer + DCL, κ_min 0.5"]["params"] == "35442"
    assert rows["ResNet34 + DCL, all stages, κ_min 0.125"]["eer"] == "2.53"


def test_suite_rows_are_paired_by_seed_beside_the_published_ratios() -> None:
    table = paper_table(records_frame(records())).set_index(["system", "source"])
    published = table.loc[("CRNN + DCL, κ_min 0.5", "published (MFLOP/s)")]
    assert published["cost fraction"] == f"{1.18 / 2.25:.3f}" and published["Δ eer (pt)"] == "+0.11"
    suite = table.loc[("CRNN + DCL, κ_min 0.5", "suite (fvcore MACs)")]
    assert suite["seeds"] == 2 and suite["widths"] == "mels=40"
    assert suite["cost fraction"] == "0.600 ± 0.000" and suite["Δ eer (pt)"] == "+0.50 ± 0.00"
    control = table.loc[("dense at the widths the DCL reached", "suite (fvcore MACs)")]
    assert control["Δ eer (pt)"] == "+0.25 ± 0.00"
    assert ("CRNN + DCL, κ_min 0.25", "suite (fvcore MACs)") not in table.index  # no such run


def test_no_table_without_the_papers_experiments(tmp_path: Path) -> None:
    other = [r for r in records() if r.method == "dcl"]  # no full dense model to compare with
    assert paper_table(records_frame(other)).empty
    (tmp_path / "paper.md").write_text("stale")
    write_report(other, tmp_path)
    assert not (tmp_path / "paper.md").exists()


def test_report_writes_the_table_and_links_it(tmp_path: Path) -> None:
    write_report(records(), tmp_path)
    assert "| vad crnn (vctk-mini+esc50-mini) | CRNN baseline |" in (tmp_path / "paper.md").read_text()
    assert "[Paper versus suite](paper.md)" in (tmp_path / "README.md").read_text()


@pytest.mark.parametrize("grid", ["paper.toml", "paper-full.toml"])
def test_the_paper_grids_plan_every_published_experiment(grid: str) -> None:
    cells = load_grid(REPO / "bench" / "grids" / grid)
    planned = {
        (
            c.task,
            c.task_settings.get("model"),
            c.method,
            c.method_settings.get("kappa_min"),
            tuple(c.method_settings.get("knobs") or ()),
        )
        for c in cells
    }
    for kappa in (0.5, 0.25, 0.125):
        for model in ("crnn", "transformer"):
            assert ("vad", model, "dcl", kappa, ("mels",)) in planned
    assert ("asvspoof2019", "resnet34", "dcl", 0.125, ()) in planned
    for stage in range(1, 5):
        assert any(p[0] == "asvspoof2019" and p[4] == (f"stage{stage}",) for p in planned)
