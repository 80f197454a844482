"""Reference systems in reports: not a method, listed with their origin, deduplicated, plotted with MACs."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pandas as pd
import pytest

from tests.records import candidate_record
from tradeoff_bench.bench.grid import PEERS as GRID_PEERS
from tradeoff_bench.bench.report import (
    PEERS,
    board_info,
    candidates_table,
    failed_cells,
    leaderboard,
    peer_rows,
    peer_table,
    records_frame,
    seed_budget_metrics,
    seed_hypervolumes,
    write_report,
)
from tradeoff_bench.bench.report.format import leaderboard_markdown
from tradeoff_bench.bench.report.frame import ok_rows
from tradeoff_bench.bench.report.peers import peers_markdown
from tradeoff_bench.core.records import Record

FULL = 1_000_000


def record(method: str, seed: int, macs: int | None, value: float, **extra) -> Record:
    return candidate_record(
        method,
        seed,
        macs,
        {"eer": value},
        full_macs=FULL,
        primary_metric="eer",
        task="vad",
        corpus="vad-corpus",
        label=f"w{macs}",
        cost_unit="second of audio",
        cell_seconds=2.0,
        train_epochs=3.0,
        overrides=extra,
    )


def peer(
    label: str, macs: int | None, value: float, origin: str = "measured", source: str = "fvcore", **extra
) -> Record:
    extra.setdefault("cell_id", "peers-cell")
    extra.setdefault("facts", {"origin": origin, "macs_source": source, "note": ""})
    return record(PEERS, 0, macs, value, label=label, **extra)


def methods() -> list[Record]:
    out = []
    for seed in (0, 1):
        for i, macs in enumerate((250_000, 500_000, 1_000_000)):
            out.append(record("dense", seed, macs, 30.0 - 5 * i + seed))
            out.append(record("slim", seed, macs, 25.0 - 5 * i - seed))
    return out


def peers() -> list[Record]:
    return [
        peer("ecapa", 2_000_000, 4.0, metrics={"eer": 4.0, "eer@snr<5": 9.0}),
        peer(
            "paper-x",
            None,
            3.0,
            origin="published",
            source="",
            facts={"origin": "published", "macs_source": "", "note": "Table 2,\n real corpus"},
        ),
        peer("tiny", 50_000, 40.0, origin="published", source="analytic: 2 layers"),
    ]


def test_the_report_constant_is_the_grid_pseudo_method():
    assert PEERS == GRID_PEERS


def test_peers_get_no_leaderboard_row_hypervolume_budget_or_candidate_row():
    alone = records_frame(methods())
    frame = records_frame(methods() + peers())
    table = leaderboard(frame)
    assert table["method"].tolist() == leaderboard(alone)["method"].tolist() == ["slim", "dense"]
    pd.testing.assert_frame_equal(table, leaderboard(alone))
    assert PEERS not in set(seed_hypervolumes(ok_rows(frame))["method"])
    assert PEERS not in set(seed_budget_metrics(ok_rows(frame))["method"])
    assert PEERS not in set(candidates_table(frame)["method"])
    info = board_info(frame)
    assert (info.methods, info.seeds, info.candidates, info.peers) == (2, 2, 12, 3)


def test_a_failed_peers_cell_is_listed_but_gets_no_row():
    failed = peer("failed", None, 0.0, status="failed", metrics={}, error="OSError: no model file")
    frame = records_frame(methods() + [failed])
    assert PEERS not in set(leaderboard(frame)["method"])
    assert failed_cells(frame)["method"].tolist() == [PEERS]
    assert peer_table(frame).empty


def test_peer_table_lists_origin_macs_source_and_what_is_not_plotted():
    table = peer_table(records_frame(methods() + peers()), breakdown=["eer@snr<5", "auc"]).set_index("label")
    assert table.index.tolist() == ["ecapa", "paper-x", "tiny"]
    assert table["origin"].tolist() == ["measured", "published", "published"]
    assert table["macs_source"].tolist() == ["fvcore", "", "analytic: 2 layers"]
    assert table.loc["ecapa", "macs_fraction"] == pytest.approx(2.0)
    assert table.loc["ecapa", "eer"] == 4.0 and table.loc["ecapa", "eer@snr<5"] == 9.0
    assert "auc" not in table.columns  # no peer reports it
    assert table["plotted"].tolist() == [True, False, True]
    assert table.loc["paper-x", "not_plotted"] == "no MAC count"
    assert table.loc["paper-x", "note"] == "Table 2, real corpus"


def test_an_unnamed_macs_source_reads_unknown():
    table = peer_table(records_frame([peer("x", 1000, 5.0, facts={"origin": "measured"})]))
    assert table["macs_source"].tolist() == ["unknown"]


def test_a_peer_in_several_runs_is_one_reference_point_the_latest():
    runs = [
        peer("ecapa", 2_000_000, value, cell_id=f"run{i}", provenance={"time_utc": f"2024-01-0{i + 1}"})
        for i, value in enumerate((4.0, 5.0))
    ]
    other_corpus = peer("ecapa", 2_000_000, 7.0, corpus="other")
    for order in (runs, runs[::-1]):
        rows = peer_rows(records_frame([*order, other_corpus]))
        assert rows[["corpus", "label"]].values.tolist() == [["other", "ecapa"], ["vad-corpus", "ecapa"]]
        assert rows["metric"].tolist() == [7.0, 5.0]


def test_markdown_lists_reference_points_with_origin_and_unplotted_caption():
    frame = records_frame(methods() + peers())
    info = board_info(frame)
    section = peers_markdown(peer_table(frame), info)
    text = leaderboard_markdown(leaderboard(frame), info, failed_cells(frame), (0.5,), extra=[section])
    assert "## Reference points" in text and "reference points: 3" in text
    assert "| ecapa | measured here on this test split | 4 | 2M | fvcore | 200% |" in text
    assert "| paper-x | published | 3 | – | – | – | – | Table 2, real corpus |" in text
    assert "Not plotted: no MAC count: `paper-x`." in text
    assert f"| {PEERS} |" not in text
    assert peers_markdown(peer_table(records_frame(methods())), info) == ""


def test_report_plots_peers_with_macs_only_and_gives_them_no_colour(tmp_path: Path):
    write_report(methods() + peers(), tmp_path)
    svg = (tmp_path / "vad" / "pareto.svg").read_text()
    assert "<!-- ecapa -->" in svg and "<!-- tiny -->" in svg  # annotated labels
    assert "<!-- paper-x -->" not in svg  # no MAC count: table only
    assert "reference (measured here)" in svg and "reference (published)" in svg
    assert f"<!-- {PEERS} -->" not in svg  # not a method in the legend
    assert "MACs per second of audio" in svg  # the x-axis states the cost unit
    readme = (tmp_path / "README.md").read_text()
    assert "### Reference points" in readme and "Cost: MACs per second of audio" in readme
    table = pd.read_csv(tmp_path / "vad" / "peers.csv")
    assert table["label"].tolist() == ["ecapa", "paper-x", "tiny"]


def test_without_plottable_peers_the_plot_has_no_reference_markers(tmp_path: Path):
    write_report(methods(), tmp_path / "none")
    assert "reference (" not in (tmp_path / "none" / "vad" / "pareto.svg").read_text()
    assert "Reference points" not in (tmp_path / "none" / "vad" / "leaderboard.md").read_text()
    assert not (tmp_path / "none" / "vad" / "peers.csv").exists()
    write_report(methods() + peers()[1:2], tmp_path / "unplotted")  # paper-x: no MAC count
    assert "reference (" not in (tmp_path / "unplotted" / "vad" / "pareto.svg").read_text()


def test_methods_keep_their_colours_when_peers_are_added(tmp_path: Path):
    def colours(path: Path) -> set[str]:
        return set(re.findall(r"#[0-9a-f]{6}", path.read_text()))

    write_report(methods(), tmp_path / "a")
    write_report(methods() + peers(), tmp_path / "b")
    alone, with_peers = colours(tmp_path / "a" / "vad" / "pareto.svg"), colours(tmp_path / "b" / "vad" / "pareto.svg")
    assert with_peers - {"#000000"} == alone


def test_a_board_of_peers_only_and_a_task_without_peers(tmp_path: Path):
    other = [record("dense", 0, 500_000, 10.0, task="kws", corpus="kws-corpus", cell_id="kws")]
    written = write_report(peers() + other, tmp_path)
    assert tmp_path / "vad" / "peers.csv" in written and tmp_path / "kws" / "peers.csv" not in written
    vad = (tmp_path / "vad" / "leaderboard.md").read_text()
    assert "No methods." in vad and "| ecapa |" in vad
    assert "<!-- ecapa -->" in (tmp_path / "vad" / "pareto.svg").read_text()
    assert "Reference points" not in (tmp_path / "kws" / "leaderboard.md").read_text()


def test_a_stale_peers_file_is_removed_when_the_peers_are_gone(tmp_path: Path):
    write_report(methods() + peers(), tmp_path)
    assert (tmp_path / "vad" / "peers.csv").exists()
    write_report(methods(), tmp_path)
    assert not (tmp_path / "vad" / "peers.csv").exists()


def test_report_with_peers_is_deterministic(tmp_path: Path):
    recs = methods() + peers() + [peer("ecapa", 2_000_000, 6.0, cell_id="rerun", provenance={"time_utc": "2024-02-01"})]
    first = write_report(recs, tmp_path / "a")
    random.Random(1).shuffle(recs)
    second = write_report(recs, tmp_path / "b")
    assert [p.relative_to(tmp_path / "a") for p in first] == [p.relative_to(tmp_path / "b") for p in second]
    for one, two in zip(first, second, strict=True):
        assert one.read_bytes() == two.read_bytes(), one.name
