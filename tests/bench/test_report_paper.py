"""The paper-versus-suite report: published rows as ratios to their baseline, suite rows paired by seed
and test item, the paper's claims with verdicts, and each DCL's α-front."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tradeoff_bench.bench.grid import load_grid
from tradeoff_bench.bench.report import records_frame
from tradeoff_bench.bench.report.bootstrap import Replicates
from tradeoff_bench.bench.report.paper import CLAIMS, alpha_fronts, paper_claims, paper_table, published_rows
from tradeoff_bench.bench.report.write import write_report
from tradeoff_bench.core.records import Record

REPO = Path(__file__).resolve().parents[2]
CRNN = {"model": "paper-crnn", "paper_width": 0.0625, "epochs": 6}


def record(
    method: str, seed: int, label: str, macs: int, eer: float, settings: dict, widths: dict, task_settings=CRNN
) -> Record:
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
        task_settings=task_settings,
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
                {"mode": "penalty", "alpha": 1.0, "kappa_min": 0.5, "knobs": ["mels"]},
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
            record(
                "dcl", seed, "dcl", 300, 20.0, {"mode": "penalty", "alpha": 1.0, "kappa_min": 0.5, "knobs": None}, full
            )
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
    assert suite["cost fraction"] == "0.600 ± 0.000"
    assert suite["Δ eer (pt)"] == "+0.50 [+0.50, +0.50] (seeds only)"  # no per-item replicates here
    control = table.loc[("dense at the widths the DCL reached", "suite (fvcore MACs)")]
    assert control["Δ eer (pt)"] == "+0.25 [+0.25, +0.25] (seeds only)"
    assert ("CRNN + DCL, κ_min 0.25", "suite (fvcore MACs)") not in table.index  # no such run


def test_no_table_without_the_papers_experiments(tmp_path: Path) -> None:
    other = [r for r in records() if r.method == "dcl"]  # no full dense model to compare with
    assert paper_table(records_frame(other)).empty
    (tmp_path / "paper.md").write_text("stale")
    write_report(other, tmp_path)
    assert not (tmp_path / "paper.md").exists()


def test_report_writes_the_table_and_links_it(tmp_path: Path) -> None:
    write_report(records(), tmp_path)
    text = (tmp_path / "paper.md").read_text()
    name = "vad: paper-crnn ×0.0625, the CPU stand-in for the paper's CRNN (vctk-mini+esc50-mini)"
    assert f"| {name} | CRNN baseline |" in text
    assert "[Paper versus suite](paper.md)" in (tmp_path / "README.md").read_text()


def replicates(found: list[Record], own: float) -> Replicates:
    """Per-item replicates: each record's EER plus noise common to every record (the same resampled test
    sets, which pairing cancels) and noise of its own (what pairing leaves), of std `own`."""
    rng = np.random.default_rng(0)
    shared = rng.normal(0.0, 1.0, 200)
    return Replicates(values={r.record_id: r.metrics["eer"] + shared + rng.normal(0.0, own, 200) for r in found})


def claims_records() -> list[Record]:
    """Five seeds: the full model, DCL at κ_min 0.5 (+0.2 pt) and 0.25 (+1.0 pt), SG (+2.0 pt)."""
    full = {"mels": 80, "conv": 8, "gru": 22}
    dcl = {"mode": "penalty", "alpha": 1.0, "knobs": ["mels"]}
    found = []
    for seed in range(5):
        base = 15.0 + 0.3 * seed
        found.append(record("dense", seed, "x1", 1000, base, {"multipliers": [1.0], "widths": {}}, full))
        found.append(record("dcl", seed, "k05", 510, base + 0.2, {**dcl, "kappa_min": 0.5}, {**full, "mels": 40}))
        found.append(record("dcl", seed, "k025", 270, base + 1.0, {**dcl, "kappa_min": 0.25}, {**full, "mels": 20}))
        sg = {"mode": "budget", "budget": 0.375, "knobs": ["mels"]}
        found.append(record("noisy-gates", seed, "sg", 370, base + 2.0, sg, {**full, "mels": 29}))
    return found


def test_claims_are_judged_on_intervals_over_seeds_and_items() -> None:
    found = claims_records()
    claims = paper_claims(records_frame(found), replicates(found, own=0.05)).set_index("claim")
    at_40 = claims.loc[CLAIMS[0].text]
    assert at_40["verdict"] == "confirmed" and at_40["paper (pt)"] == "+0.11" and at_40["seeds"] == 5
    assert claims.loc[CLAIMS[1].text, "verdict"] == "refuted"
    versus_sg = claims.loc[CLAIMS[2].text]  # SG costs 370: DCL κ_min 0.25 (270) is the costliest no costlier
    assert versus_sg["verdict"] == "confirmed" and versus_sg["suite (pt)"].startswith("-1.00 [")
    assert (
        versus_sg["comparison"].startswith("dcl α 1, κ_min 0.25") and versus_sg["paper (pt)"] == f"{9.42 - 10.17:+.2f}"
    )
    seeds_only = paper_claims(records_frame(found)).set_index("claim")  # no per-item scores: never resolved
    assert set(seeds_only["verdict"]) == {"not resolved"}


def test_a_wide_interval_leaves_a_claim_unresolved() -> None:
    found = claims_records()
    claims = paper_claims(records_frame(found), replicates(found, own=3.0)).set_index("claim")
    assert claims.loc[CLAIMS[0].text, "verdict"] == "not resolved"


def test_the_suites_own_families_are_not_set_beside_the_papers() -> None:
    own = [
        record(r.method, r.seed, r.label, r.macs, r.metrics["eer"], r.settings, r.widths, {"model": "crnn"})
        for r in claims_records()
    ]
    assert paper_table(records_frame(own)).empty and paper_claims(records_frame(own)).empty


def test_alpha_fronts_list_each_alpha_cheapest_last() -> None:
    found = claims_records()
    full = {"mels": 80, "conv": 8, "gru": 22}
    for seed in range(5):
        for alpha, mels in ((0.1, 70), (0.35, 33)):
            settings = {"mode": "penalty", "alpha": alpha, "kappa_min": 0.125, "knobs": ["mels"]}
            found.append(record("dcl", seed, f"a{alpha}", mels * 12, 15.5, settings, {**full, "mels": mels + seed}))
    control = {"multipliers": [1.0], "widths": {"mels": 40}}
    found += [record("dense", seed, "x1-mels40", 600, 15.3, control, {**full, "mels": 40}) for seed in range(5)]
    fronts = alpha_fronts(records_frame(found))
    # by cost: 840, 600 (dense at 40 bands), 510 (κ_min 0.5), 396, 270 MACs
    assert fronts["α"].tolist() == ["0.1", "", "1", "0.35", "1"]
    assert fronts["κ_min"].tolist() == ["0.125", "", "0.5", "0.125", "0.25"]
    assert fronts["run"].tolist() == ["dcl", "dense at mels=40", "dcl", "dcl", "dcl"]
    assert fronts.iloc[0]["widths"] == "mels 72.0" and fronts.iloc[0]["seeds"] == 5


@pytest.mark.parametrize("grid", ["paper.toml", "paper-full.toml"])
def test_the_paper_grids_plan_every_published_experiment(grid: str) -> None:
    cells = load_grid(REPO / "bench" / "grids" / grid)
    planned = {
        (
            c.task,
            c.task_settings.get("model"),
            c.method,
            c.method_settings.get("kappa_min"),
            c.method_settings.get("alpha"),
            tuple(c.method_settings.get("knobs") or ()),
        )
        for c in cells
    }
    for model in ("paper-crnn", "paper-transformer"):
        for kappa in (0.5, 0.25, 0.125):
            assert ("vad", model, "dcl", kappa, 1.0, ("mels",)) in planned
        alphas = {p[4] for p in planned if p[:3] == ("vad", model, "dcl") and p[3] == 0.125}
        assert len(alphas) >= 4  # the DCL's own front
        assert ("vad", model, "noisy-gates", None, 1.0, ("mels",)) in planned  # the paper's SG: mels only
    assert ("asvspoof2019", "resnet34", "dcl", 0.125, 1.0, ()) in planned
    assert len({p[4] for p in planned if p[:3] == ("asvspoof2019", "resnet34", "dcl")}) >= 4
