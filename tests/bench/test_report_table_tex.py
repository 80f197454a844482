"""The paper-ready LaTeX tables: digits from the interval, marks, bold, caption and label, and that
every generated table compiles with pdflatex inside one 3.3 in column (skipped only where TeX is missing)."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.records import eer_record
from tradeoff_bench.bench.report import write_report
from tradeoff_bench.bench.report.table_tex import decimal_places, interval_cell, method_text, metric_exponent
from tradeoff_bench.core.records import Record

FULL = 1_000_000
METHODS = (
    "dense",
    "dcl",
    "magnitude",
    "magnitude-unstructured",
    "slimmable",
    "quantization",
    "network-slimming",
    "noisy-gates",
)
COLUMN_DOCUMENT = r"""\documentclass[10pt,twocolumn]{article}
\usepackage[letterpaper,textwidth=6.9in,columnsep=0.3in,textheight=9in]{geometry}
\usepackage{booktabs}
\begin{document}
\input{TABLE}
\end{document}
"""
OVERFULL_TOLERANCE_PT = 1.0


@pytest.mark.parametrize(
    ("half", "places", "shown"),
    [(0.38, 1, "0.4"), (0.12, 2, "0.12"), (0.354, 2, "0.35"), (0.355, 1, "0.4"), (0.97, 1, "1.0"), (35.0, 0, "35")],
)
def test_the_half_width_keeps_the_digits_of_the_pdg_rule(half: float, places: int, shown: str):
    assert decimal_places(half) == places
    assert f"{round(half, places):.{places}f}" == shown


def test_the_center_is_rounded_where_its_interval_is():
    cell = interval_cell(14.1734, 13.41, 14.92)  # half-width 0.755: one significant digit
    assert cell.text == "14.2{\\scriptsize\\,$\\pm$0.8}" and cell.value == 14.2
    assert interval_cell(450.0, 0.0, 900.0).text.startswith("500{")  # half 450 -> 500: hundreds
    assert interval_cell(14.1734, math.nan, math.nan).text == "14.2"  # no interval: 3 significant digits
    assert interval_cell(math.nan, 1.0, 2.0).text == "--"


def test_small_metrics_are_shown_in_a_power_of_ten():
    assert metric_exponent([0.064, 0.040, 0.032]) == -2
    assert metric_exponent([14.2, 0.4]) == 0 and metric_exponent([0.5, 0.2]) == 0


def test_a_long_method_name_is_stacked_at_its_first_hyphen():
    assert method_text("noisy-gates") == "noisy-gates"
    assert (
        method_text("magnitude-unstructured") == "\\begin{tabular}[t]{@{}l@{}}magnitude-\\\\unstructured\\end{tabular}"
    )


def board(values: dict[str, float]) -> list[Record]:
    """Every method at 25 / 50 / 75 / 100 % of the MACs, 3 seeds, EER near `values[method]`."""
    out = []
    for m, method in enumerate(METHODS):
        for seed in range(3):
            for share in (0.25, 0.5, 0.75, 1.0):
                eer = values.get(method, 20.0 + m) + 4 * (1 - share) + 0.3 * seed
                theoretical = {"macs_theoretical": int(FULL * share / 2)} if method == "magnitude-unstructured" else {}
                out.append(
                    eer_record(
                        method,
                        seed,
                        share,
                        eer,
                        full_macs=FULL,
                        task="vad",
                        corpus="vad-mini",
                        cell_id=f"{method}-s{seed}",
                        cost_unit="second of audio",
                        facts=theoretical,
                    )
                )
    return out


def test_the_table_bolds_the_best_value_and_carries_caption_and_label(tmp_path: Path):
    write_report(board({"dcl": 10.0}), tmp_path)
    tex = (tmp_path / "vad" / "table.tex").read_text()
    assert "\\begin{table}[t]" in tex and "\\label{tab:tradeoff-bench-vad}" in tex
    caption = re.search(r"\\caption\{(.*)\}\n", tex).group(1)
    assert "\\texttt{vad-mini}" in caption and "mean over 3 seeds" in caption and "Bold: best per column" in caption
    assert "$^\\S$: theoretical MACs" in caption  # magnitude-unstructured's cost
    dcl = next(line for line in tex.splitlines() if line.startswith("dcl &"))
    assert dcl.count("\\textbf{") == 3  # the best EER at every budget
    assert sum(line.count("\\textbf{") for line in tex.splitlines() if line.startswith("dense &")) == 0
    wide = (tmp_path / "vad" / "table-wide.tex").read_text()
    assert "\\begin{table*}[t]" in wide and "\\label{tab:tradeoff-bench-vad-wide}" in wide
    assert "HV &" in wide and "Cost at target" in wide


def test_tex_budgets_choose_the_columns(tmp_path: Path):
    write_report(board({}), tmp_path, tex_budgets=(0.5,))
    tex = (tmp_path / "vad" / "table.tex").read_text()
    assert "\\begin{tabular}{lr}" in tex and "at most 50\\,\\% of the full dense model's MACs" in tex


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (CI installs texlive)")
def test_every_table_compiles_and_fits_one_column(tmp_path: Path):
    rng = np.random.default_rng(0)
    write_report(board({method: float(rng.uniform(5, 40)) for method in METHODS}), tmp_path / "report")
    tables = sorted((tmp_path / "report").rglob("table*.tex"))
    assert [t.name for t in tables] == ["table-wide.tex", "table.tex"]
    for table in tables:
        document = tmp_path / f"{table.stem}-document.tex"
        document.write_text(COLUMN_DOCUMENT.replace("TABLE", str(table)))
        result = subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", document.name],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        log = document.with_suffix(".log").read_text(errors="replace")
        assert result.returncode == 0, log[-2000:]
        overfull = [float(pt) for pt in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]
        assert all(pt <= OVERFULL_TOLERANCE_PT for pt in overfull), f"{table.name}: overfull by {overfull} pt"
