"""The site's learned-widths plot: every learned knob of every seed over its epochs, from the records' histories."""

from __future__ import annotations

import json
from pathlib import Path

from tests.records import eer_record
from tradeoff_bench.bench.report import records_frame, write_report
from tradeoff_bench.bench.report.widths_plot import width_histories, widths_figure_json


def history(mels: list[float], selected: int) -> list[dict]:
    return [
        {"epoch": i + 1, "loss": 0.5, "dev": 20.0, "K": {"mels": k}, "selected": i + 1 == selected}
        for i, k in enumerate(mels)
    ]


def records():
    dcl = [
        eer_record("dcl", seed, 0.5, 15.0, full_macs=1000, facts={"history": history([79.5, 60.2, 41.0], 3 - seed)})
        for seed in (0, 1)
    ]
    dense = eer_record("dense", 0, 1.0, 14.0, full_macs=1000, facts={"history": [{"epoch": 1, "loss": 0.4}]})
    return [*dcl, dense]


def test_each_seed_of_a_learning_candidate_gets_its_knobs_history():
    found = width_histories(records_frame(records()))
    assert [(h["method"], h["seed"], h["knob"]) for h in found] == [("dcl", 0, "mels"), ("dcl", 1, "mels")]
    assert found[0]["widths"] == [79.5, 60.2, 41.0] and found[0]["epochs"] == [1, 2, 3]
    assert [h["selected"] for h in found] == [2, 1]  # index of the kept epoch


def test_the_figure_draws_them_and_marks_the_kept_epoch():
    figure = json.loads(widths_figure_json(records_frame(records())))
    history, kept = figure["data"]
    assert history["meta"] == {"label": "x0.5", "knob": "mels", "role": "history", "seeds": [0, 1]}
    assert history["y"] == [79.5, 60.2, 41.0, None, 79.5, 60.2, 41.0, None]  # every seed's line, apart
    assert history["customdata"][:4] == [0, 0, 0, 0] and history["customdata"][4] == 1
    assert kept["meta"]["role"] == "kept" and kept["x"] == [3, 2] and kept["y"] == [41.0, 60.2]
    assert history["showlegend"] and not kept["showlegend"]  # one legend entry per label


def test_no_plot_where_nothing_learned_widths(tmp_path: Path):
    plain = [r for r in records() if r.method == "dense"]
    assert widths_figure_json(records_frame(plain)) is None
    write_report(plain, tmp_path)
    assert "Learned widths over training" not in (tmp_path / "index.html").read_text()
    write_report(records(), tmp_path)
    assert "Learned widths over training" in (tmp_path / "index.html").read_text()
