"""The paper-versus-suite table: Gómez & Bäckström's published rows beside the suite's own runs.

The published rows live in `paper_results.csv` (with their source). The paper states its cost in
"MFLOP/s" or "GFLOP/s" without saying what it normalises by, so each side is compared with its own
full model: the cost as a fraction of that model's, the EER as a difference in points. A row's
`match` (`key=value;...`) picks the suite's records of the same experiment by method, label and
method settings (`knobs=mels` matches the setting `["mels"]`; an empty value matches an unset one);
rows are matched within one task configuration (task, its settings, corpus), whose full model is
its `dense` record labelled `x1`, and seeds are paired: each seed's candidate against the same
seed's full model. For every DCL row the table also shows `dense` built at the widths the DCL
reached (the control the paper lacks), when the run has it.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from tradeoff_bench.bench.report.format import markdown_table
from tradeoff_bench.bench.report.frame import ok_rows

PUBLISHED = Path(__file__).with_name("paper_results.csv")
COLUMNS = ["configuration", "system", "source", "seeds", "widths", "params", "cost fraction", "Δ eer (pt)", "eer"]


def published_rows() -> list[dict[str, str]]:
    """The paper's rows as strings, the source comment line left out."""
    lines = [line for line in PUBLISHED.read_text().splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines))


def paper_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Published and suite rows for every task configuration of `frame` that has a published row
    and a full dense model; empty when none does."""
    rows: list[dict[str, Any]] = []
    ok = ok_rows(frame)
    published = published_rows()
    configurations = ok.assign(_config=ok["task_settings"].map(lambda s: json.dumps(s, sort_keys=True)))
    for (task, corpus, config), group in configurations.groupby(["task", "corpus", "_config"], sort=True):
        model = json.loads(config).get("model", "")
        mine = [row for row in published if row["task"] == task and row["model"] == model]
        full = _full_models(group)
        if not mine or not full:
            continue
        name = f"{task} {_model_name(model, json.loads(config))} ({corpus})"
        baseline = next(row for row in mine if row["match"] == "method=dense;label=x1")
        if not any(len(_matching(group, row["match"])) for row in mine if row is not baseline):
            continue  # only the full model: none of the paper's experiments ran here
        for row in mine:
            rows.append(_published_row(name, row, baseline))
            matched = _matching(group, row["match"])
            if len(matched):
                rows.append(_suite_row(name, row["system"], matched, full))
            if len(matched) and row["match"].startswith("method=dcl"):
                control = _dense_at(group, matched)
                if len(control):
                    rows.append(_suite_row(name, "dense at the widths the DCL reached", control, full))
    return pd.DataFrame(rows, columns=COLUMNS)


def paper_markdown(table: pd.DataFrame) -> str:
    """`paper.md`: how the table is built, then the table."""
    return "\n".join(
        [
            "# Paper versus suite",
            "",
            "Published rows: Gómez & Bäckström (2026), arXiv 2601.13704 (see `bench/report/paper_results.csv`), "
            "in the paper's own units; suite rows: this run, mean ± sample std over seeds. Each side is compared "
            "with its own full model: cost as a fraction of it (the paper's FLOP/s, the suite's fvcore MACs), EER "
            "as a difference in points (suite: paired by seed). The suite runs on its offline corpora unless the "
            "configuration names a real one.",
            "",
            markdown_table(list(table.columns), table.astype(str).values.tolist()),
            "",
        ]
    )


RESNET34_BLOCKS = (3, 4, 6, 3)
"""The paper's ResNet34 layout (arXiv 2601.13704, anti-spoofing case study) at width ×1."""


def _model_name(model: str, settings: dict[str, Any]) -> str:
    """The model family a configuration runs, named for what it is: a ResNet other than the paper's
    ResNet34 layout at full width is labelled as the stand-in it is."""
    blocks, width = settings.get("blocks"), settings.get("width_multiplier")
    if model != "resnet34" or blocks is None or width is None:
        return model
    if tuple(blocks) == RESNET34_BLOCKS and width == 1:
        return "ResNet34"
    layout = ",".join(str(b) for b in blocks)
    return f"ResNet ({layout}) ×{width:g}: the CPU stand-in for ResNet34"


def _full_models(group: pd.DataFrame) -> dict[int, pd.Series]:
    dense = group[(group["method"] == "dense") & (group["label"] == "x1")]
    return {int(row["seed"]): row for _, row in dense.iterrows()}


def _matching(group: pd.DataFrame, match: str) -> pd.DataFrame:
    mask = pd.Series(True, index=group.index)
    for condition in match.split(";"):
        key, _, value = condition.partition("=")
        if key in ("method", "label"):
            mask &= group[key] == value
        else:
            mask &= group["settings"].map(lambda s, k=key, v=value: _setting_is(s.get(k), v))
    return group[mask]


def _setting_is(setting: Any, wanted: str) -> bool:
    if setting is None or wanted == "":
        return setting is None and wanted == ""
    if isinstance(setting, (list, tuple)):
        return ",".join(map(str, setting)) == wanted
    if isinstance(setting, (int, float)) and not isinstance(setting, bool):
        return math.isclose(float(setting), float(wanted))
    return str(setting) == wanted


def _dense_at(group: pd.DataFrame, learned: pd.DataFrame) -> pd.DataFrame:
    """`dense` records built at a width some seed of the DCL reached on the knobs it learned."""
    reached = []
    for _, row in learned.iterrows():
        knobs = row["settings"].get("knobs") or list(row["widths"])
        reached.append({k: row["widths"][k] for k in knobs})
    dense = group[(group["method"] == "dense") & group["settings"].map(lambda s: bool(s.get("widths")))]
    return dense[dense["settings"].map(lambda s: s["widths"] in reached)]


def _published_row(name: str, row: dict[str, str], baseline: dict[str, str]) -> dict[str, Any]:
    fraction = float(row["cost"]) / float(baseline["cost"])
    delta = float(row["eer"]) - float(baseline["eer"])
    return {
        "configuration": name,
        "system": row["system"],
        "source": f"published ({row['cost_unit']})",
        "seeds": "",
        "widths": f"mels={row['mel_bands']}" if row["mel_bands"] else "",
        "params": f"{int(row['params']):,}",
        "cost fraction": f"{fraction:.3f}",
        "Δ eer (pt)": f"{delta:+.2f}",
        "eer": f"{float(row['eer']):.2f}",
    }


def _suite_row(name: str, system: str, rows: pd.DataFrame, full: dict[int, pd.Series]) -> dict[str, Any]:
    paired = [(row, full[int(row["seed"])]) for _, row in rows.iterrows() if int(row["seed"]) in full]
    fractions = [row["macs"] / ref["macs"] for row, ref in paired]
    deltas = [row["metric"] - ref["metric"] for row, ref in paired]
    widths = sorted(
        {
            ", ".join(f"{k}={v}" for k, v in sorted(row["widths"].items()) if v != ref["widths"].get(k)) or "full"
            for row, ref in paired
        }
    )
    return {
        "configuration": name,
        "system": system,
        "source": "suite (fvcore MACs)",
        "seeds": len(paired),
        "widths": "; ".join(widths),
        "params": _spread([r["params"] for r, _ in paired], ",.0f"),
        "cost fraction": _spread(fractions, ".3f"),
        "Δ eer (pt)": _spread(deltas, "+.2f"),
        "eer": _spread([r["metric"] for r, _ in paired], ".2f"),
    }


def _spread(values: list[float], spec: str) -> str:
    values = [float(v) for v in values]
    if not values:
        return ""
    mean = sum(values) / len(values)
    if len(values) == 1:
        return format(mean, spec)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return f"{format(mean, spec)} ± {format(std, spec.lstrip('+'))}"
