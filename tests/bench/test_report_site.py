"""index.html without a browser: self-contained, one figure per board, every table, provenance."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.records import candidate_record
from tradeoff_bench.bench.report import board_info, records_frame, write_report
from tradeoff_bench.bench.report.interactive import board_figure_json
from tradeoff_bench.bench.report.provenance import provenance_rows
from tradeoff_bench.bench.report.style import method_styles
from tradeoff_bench.core.records import Record

FULL = 1_000_000


def record(task: str, method: str, seed: int, macs: int, value: float, **extra) -> Record:
    return candidate_record(
        method,
        seed,
        macs,
        {"eer": value, "eer@snr<5": value + 5},
        full_macs=FULL,
        primary_metric="eer",
        cell_id=f"{task}-{method}-s{seed}",
        task=task,
        corpus=f"{task}-corpus",
        label=f"w{macs}",
        cost_unit="second of audio",
        settings={"mode": "budget", "budget": macs / FULL, "unset": None},
        provenance={
            "commit": "0123456789abcdef0123",
            "dirty": seed == 1,
            "cpu": "EPYC",
            "threads": 1,
            "time_utc": f"2026-11-30T10:0{seed}:00+00:00",
            "versions": {"torch": "2.11.0"},
        },
        overrides=extra,
    )


def records() -> list[Record]:
    out = [
        record(task, method, seed, macs, 20.0 - 4 * i + seed)
        for task in ("vad", "asv")
        for method in ("dcl", "dense")
        for seed in (0, 1)
        for i, macs in enumerate((250_000, 500_000, FULL))
    ]
    out.append(record("vad", "dcl", 1, 100_000, 97.0))  # a noisy outlier far above the fronts
    out.append(
        record(
            "vad",
            "peers",
            0,
            2_000_000,
            4.0,
            label="Silero <VAD>",
            cell_id="vad-peers",
            facts={"origin": "measured", "macs_source": "fvcore"},
        )
    )
    failed = record("asv", "magnitude", 0, 0, 0.0, status="failed", metrics={}, error="ValueError: <boom>")
    failed.macs = None
    return [*out, failed]


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("report")
    write_report(records(), folder)
    return (folder / "index.html").read_text(encoding="utf-8")


def test_page_is_self_contained(page: str):
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", page)  # nothing to load
    assert page.count("<script>") == 2 and "Plotly" in page  # plotly.js once, then the page's script
    assert len(page.encode()) < 6_000_000


def test_each_board_has_a_figure_tables_and_provenance(page: str):
    for task in ("asv", "vad"):
        section = page[page.index(f'<section class="board" id="{task}">') :]
        section = section[: section.index("</section>")]
        assert f'data-figure="figure-{task}"' in section and "<h3>Leaderboard</h3>" in section
        assert section.count('class="seed-toggle"') == 2 and "Breakdown at ≤50% MACs" in section
        assert "<td>0123456789ab, 0123456789ab (dirty)</td>" in section and "<th>torch</th><td>2.11.0</td>" in section
        assert f'href="{task}/leaderboard.csv"' in section
    assert "Silero &lt;VAD&gt;" in page and "<h3>Reference points</h3>" in page
    assert "ValueError: &lt;boom&gt;" in page and "<h3>Failed cells</h3>" in page
    figure = re.search(r'<script type="application/json" id="figure-vad">(.*?)</script>', page, re.S).group(1)
    assert json.loads(figure.replace("<\\/", "</"))["layout"]["xaxis"]["type"] == "log"


def test_figure_has_a_legend_entry_and_seed_traces_per_method():
    board = records_frame(records())
    board = board[board["task"] == "vad"]
    figure = json.loads(board_figure_json(board, board_info(board), method_styles(["dcl", "dense"])))
    roles = [(t["meta"]["role"], t["meta"]["method"], t["meta"]["seed"]) for t in figure["data"]]
    assert roles == [
        (role, m, seed) for m in ("dcl", "dense") for role, seed in (("front", None), ("seed", 0), ("seed", 1))
    ] + [("reference", None, None)]
    legend = [t["name"] for t in figure["data"] if t.get("showlegend", True)]
    assert legend == ["dcl", "dense", "reference points"]
    low, high = figure["layout"]["yaxis"]["range"]
    assert high < 97.0 and low < 4.0  # the outlier is left out, the reference point kept
    seed = next(t for t in figure["data"] if t["meta"] == {"method": "dcl", "seed": 1, "role": "seed"})
    assert seed["customdata"][0] == ["w100000", 'budget=0.1, mode="budget"', "", "", "vad-dcl-s1-w100000"]
    assert "%{customdata[1]}" in seed["hovertemplate"] and "seed 1" in seed["hovertemplate"]


@pytest.mark.parametrize("aggregate", ["mean", "median"])
def test_plotly_fronts_run_only_through_labels_of_existing_candidates(aggregate: str):
    import dataclasses

    recs = [
        record("vad", method, seed, macs + 1000 * seed**2, 20.0 - 4 * i + m + (seed**2) * (-1) ** i, label=label)
        for m, method in enumerate(("dcl", "dense", "slimmable"))
        for seed in (0, 1, 2)
        for i, (label, macs) in enumerate((("a", 250_000), ("b", 400_000), ("c", 600_000)))
    ]
    recs += [record("vad", "dense", seed, 300_000, 30.0, label="worse") for seed in (0, 1)]  # dominated
    recs += [record("vad", "dcl", seed, 900_000, 40.0, label="dear") for seed in (0, 1, 2)]  # off the front
    board = records_frame(recs)
    info = dataclasses.replace(board_info(board), aggregate=aggregate)
    figure = json.loads(board_figure_json(board, info, method_styles(["dcl", "dense", "slimmable"])))
    fronts = [t for t in figure["data"] if t["meta"]["role"] == "front"]
    assert [t["meta"]["method"] for t in fronts] == ["dcl", "dense", "slimmable"]
    rows = board[board["status"] == "ok"]
    for trace in fronts:
        mine = rows[rows["method"] == trace["meta"]["method"]]
        points = {
            label: (g["cost"].mean(), getattr(g["metric"], aggregate)(), g["metric"].min(), g["metric"].max())
            for label, g in mine.groupby("label")
        }
        assert trace["line"]["shape"] == "hv" and len(trace["x"]) == 3
        for k, (x, y) in enumerate(zip(trace["x"], trace["y"])):
            label = trace["customdata"][k][0]
            cost, value, low, high = points[label]
            assert (x, y) == (pytest.approx(cost), pytest.approx(value))
            assert trace["error_y"]["array"][k] == pytest.approx(high - value)
            assert trace["error_y"]["arrayminus"][k] == pytest.approx(value - low)
        assert {c[0] for c in trace["customdata"]} == {"a", "b", "c"}  # never "worse" nor "dear"
        # it ends at its costliest front point ("c"): no run-on to the data's right edge (FULL, or dcl's "dear")
        assert max(trace["x"]) == pytest.approx(points["c"][0]) and max(trace["x"]) < mine["cost"].max()


def test_plotly_log_axis_has_readable_ticks():
    board = records_frame(records())
    board = board[board["task"] == "vad"]  # 100k (the outlier) to 2M (the reference point)
    xaxis = json.loads(board_figure_json(board, board_info(board), method_styles(["dcl", "dense"])))["layout"]["xaxis"]
    assert xaxis["tickmode"] == "array"
    assert xaxis["tickvals"] == [100_000, 200_000, 500_000, 1_000_000, 2_000_000]
    assert xaxis["ticktext"] == ["100k", "200k", "500k", "1M", "2M"]


def test_hover_shows_a_confidence_interval_when_the_frame_has_one():
    board = records_frame([record("vad", "dcl", 0, FULL, 10.0)]).assign(metric_ci_low=9.0, metric_ci_high=11.5)
    figure = json.loads(board_figure_json(board, board_info(board), method_styles(["dcl"])))
    seed = next(t for t in figure["data"] if t["meta"]["role"] == "seed")
    assert seed["customdata"][0][3] == " [9, 11.5]"


def test_provenance_lists_every_distinct_value():
    board = records_frame(records())
    facts = dict(provenance_rows(board))
    assert facts["commit"] == "0123456789ab, 0123456789ab (dirty)"
    assert facts["recorded (UTC)"] == "2026-11-30T10:00:00+00:00 to 2026-11-30T10:01:00+00:00"
    assert facts["torch threads"] == "1" and "platform" not in facts


def test_report_of_the_same_records_gives_the_same_page(tmp_path: Path):
    write_report(records(), tmp_path / "a")
    write_report(records()[::-1], tmp_path / "b")
    assert (tmp_path / "a" / "index.html").read_bytes() == (tmp_path / "b" / "index.html").read_bytes()
