"""The paper-versus-suite report: Gómez & Bäckström's published rows beside the suite's own runs.

The published rows live in `paper_results.csv` (with their source). The paper states its cost in
"MFLOP/s" or "GFLOP/s" without saying what it normalises by, so each side is compared with its own
full model: the cost as a fraction of that model's, the EER as a difference in points. A suite
configuration (task, its settings, corpus) takes the published rows of the paper's model it runs
or stands in for (`FAMILIES`: vad's `paper-crnn` and `paper-transformer`, asvspoof2019's
`resnet34`; the suite's own `crnn` and `transformer` are other models and get no rows), and names
what it runs (`model_name`). A row's `match` (`key=value;...`) picks the suite's records of the same
experiment by method, label and method settings (`knobs=mels` matches the setting `["mels"]`; an
empty value matches an unset one). Seeds are paired: each seed's candidate against the same seed's
full model (its `dense` record labelled `x1`). Intervals are 95 % bootstrap intervals over seeds
and test items, the same resampled test sets on both sides of a difference
(`bench.report.verdicts.paired_interval`). For every DCL row the table also shows `dense` built at
the widths the DCL reached (the control the paper lacks), when the run has it.

`paper_claims` tests the paper's three headline claims on the suite's runs (`CLAIMS`): each is
confirmed or refuted when the interval lies wholly on one side of its bound, else not resolved.
`alpha_fronts` lists each DCL's own front: one row per α (penalty mode), the widths it stopped at,
its cost and its EER difference from the full model.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tradeoff_bench.bench.report.bootstrap import Replicates
from tradeoff_bench.bench.report.format import markdown_table
from tradeoff_bench.bench.report.frame import ok_rows
from tradeoff_bench.bench.report.verdicts import ITEMS_AND_SEEDS, paired_interval, seed_interval

PUBLISHED = Path(__file__).with_name("paper_results.csv")
COLUMNS = ["configuration", "system", "source", "seeds", "widths", "params", "cost fraction", "Δ eer (pt)", "eer"]
CLAIM_COLUMNS = ["claim", "configuration", "comparison", "paper (pt)", "suite (pt)", "seeds", "verdict"]
FRONT_COLUMNS = ["configuration", "run", "α", "κ_min", "seeds", "widths", "cost fraction", "Δ eer (pt)"]
FAMILIES = {"paper-crnn": "crnn", "paper-transformer": "transformer", "resnet34": "resnet34"}
"""Suite model family -> the paper's model (`paper_results.csv`'s `model`) it runs or stands in for."""
RESNET34_BLOCKS = (3, 4, 6, 3)
"""The paper's ResNet34 layout (arXiv 2601.13704, anti-spoofing case study) at width ×1."""
CONFIRMED, REFUTED, UNRESOLVED = "confirmed", "refuted", "not resolved"


@dataclass(frozen=True)
class Claim:
    """A claim of the paper: `mine - theirs` (EER points, paired by seed) is at most `bound`."""

    text: str
    task: str
    mine: str
    """`match` of the suite records on the left of the difference."""
    theirs: str
    """`match` of the records it is compared with (`method=dense;label=x1`: the full model)."""
    bound: float
    strict: bool
    """True: the difference must be below `bound` (a "beats"); False: at most `bound`."""
    matched_cost: bool = False
    """`mine` names a family of runs (e.g. every penalty-mode DCL on the mels); the one compared is
    its configuration (α, κ_min) of the highest mean cost that is no higher than `theirs`'s."""
    paper_mine: str = ""
    """The published row on the left of the paper's own difference, where `mine` names none."""


FULL = "method=dense;label=x1"
DCL_MELS = "method=dcl;mode=penalty;alpha=1;knobs=mels;kappa_min="
CLAIMS = (
    Claim(
        "DCL on the mels (α = 1, κ_min 0.5: the paper's 40 bands) costs at most +0.4 pt EER",
        "vad",
        DCL_MELS + "0.5",
        FULL,
        0.4,
        False,
    ),
    Claim(
        "DCL on the mels (α = 1, κ_min 0.25: the paper's 20 bands) costs at most +0.4 pt EER",
        "vad",
        DCL_MELS + "0.25",
        FULL,
        0.4,
        False,
    ),
    Claim(
        "DCL beats SG at matched cost",
        "vad",
        "method=dcl;mode=penalty;knobs=mels",
        "method=noisy-gates;mode=budget;budget=0.375",
        0.0,
        True,
        matched_cost=True,
        paper_mine=DCL_MELS + "0.25",
    ),
    Claim(
        "the ResNet DCL beats its baseline",
        "asvspoof2019",
        "method=dcl;mode=penalty;alpha=1;kappa_min=0.125;knobs=",
        FULL,
        0.0,
        True,
    ),
)


def published_rows() -> list[dict[str, str]]:
    """The paper's rows as strings, the source comment line left out."""
    lines = [line for line in PUBLISHED.read_text().splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines))


def configurations(frame: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame, list[dict[str, str]]]]:
    """(task, configuration name, its ok records, its published rows) for every configuration of
    `frame` that runs one of the paper's models and has a full dense model."""
    found = []
    ok = ok_rows(frame)
    published = published_rows()
    keyed = ok.assign(_config=ok["task_settings"].map(lambda s: json.dumps(s, sort_keys=True)))
    for (task, corpus, config), group in keyed.groupby(["task", "corpus", "_config"], sort=True):
        settings = json.loads(config)
        family = FAMILIES.get(settings.get("model", ""))
        mine = [row for row in published if row["task"] == task and row["model"] == family]
        if mine and len(_matching(group, FULL)):
            found.append((str(task), f"{task}: {model_name(settings)} ({corpus})", group, mine))
    return found


def paper_table(frame: pd.DataFrame, reps: Replicates | None = None) -> pd.DataFrame:
    """Published and suite rows for every configuration of `frame` that runs one of the paper's
    experiments beside its full model; empty when none does."""
    reps = reps or Replicates()
    rows: list[dict[str, Any]] = []
    for _, name, group, mine in configurations(frame):
        baseline = next(row for row in mine if row["match"] == FULL)
        if not any(len(_matching(group, row["match"])) for row in mine if row is not baseline):
            continue  # only the full model: none of the paper's experiments ran here
        full = _matching(group, FULL)
        for row in mine:
            rows.append(_published_row(name, row, baseline))
            matched = _matching(group, row["match"])
            if len(matched):
                rows.append(_suite_row(name, row["system"], matched, full, reps))
            if len(matched) and row["match"].startswith("method=dcl"):
                control = _dense_at(group, matched)
                if len(control):
                    rows.append(_suite_row(name, "dense at the widths the DCL reached", control, full, reps))
    return pd.DataFrame(rows, columns=COLUMNS)


def paper_claims(frame: pd.DataFrame, reps: Replicates | None = None) -> pd.DataFrame:
    """One row per claim and configuration where both sides ran: the paper's difference, the
    suite's with its interval, and the verdict."""
    reps = reps or Replicates()
    rows = []
    for task, name, group, mine in configurations(frame):
        published = {row["match"]: row for row in mine}
        for claim in (c for c in CLAIMS if c.task == task):
            theirs = _matching(group, claim.theirs)
            mine, described = _matching(group, claim.mine), _describe(claim.mine)
            if claim.matched_cost:
                mine, described = _no_costlier(mine, theirs)
            left, right = _paired(mine, theirs)
            if left.empty:
                continue
            diff, low, high, over = paired_interval(left, right, reps)
            paper = _published_difference(published, claim)
            rows.append(
                {
                    "claim": claim.text,
                    "configuration": name,
                    "comparison": f"{described} − {_describe(claim.theirs)}",
                    "paper (pt)": "" if paper is None else f"{paper:+.2f}",
                    "suite (pt)": _with_interval(diff, low, high, over),
                    "seeds": len(left),
                    "verdict": _claim_verdict(claim, low, high, over),
                }
            )
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def alpha_fronts(frame: pd.DataFrame, reps: Replicates | None = None) -> pd.DataFrame:
    """Each configuration's DCL front: one row per (α, κ_min) of its penalty-mode DCL on the knobs
    of the paper's DCL rows, and one per `dense` model built at fixed widths (the controls), in
    order of cost, costliest first."""
    reps = reps or Replicates()
    rows = []
    for _, name, group, mine in configurations(frame):
        knobs = {_knobs_of(row["match"]) for row in mine if row["match"].startswith("method=dcl")}
        dcl = group[(group["method"] == "dcl") & group["settings"].map(lambda s, k=knobs: _penalty_on(s, k))]
        if dcl.empty:
            continue
        dense = group[(group["method"] == "dense") & group["settings"].map(lambda s: bool(s.get("widths")))]
        full = _matching(group, FULL)
        runs = pd.concat([dcl, dense])
        key = runs.apply(_front_key, axis=1)
        front = []
        for (run, alpha, kappa_min), chosen in runs.groupby(key, sort=True):
            left, right = _paired(chosen, full)
            diff, low, high, over = paired_interval(left, right, reps)
            fractions = (left["macs"].to_numpy(float) / right["macs"].to_numpy(float)).tolist()
            front.append(
                {
                    "configuration": name,
                    "run": run,
                    "α": alpha,
                    "κ_min": kappa_min,
                    "seeds": len(left),
                    "widths": _mean_widths(left, sorted(knobs)),
                    "cost fraction": _spread(fractions, ".3f"),
                    "Δ eer (pt)": _with_interval(diff, low, high, over),
                    "_cost": sum(fractions) / len(fractions),
                }
            )
        rows += sorted(front, key=lambda r: -r["_cost"])
    return pd.DataFrame(rows, columns=[*FRONT_COLUMNS, "_cost"]).drop(columns="_cost")


def _front_key(row: pd.Series) -> tuple[str, str, str]:
    """(run, α, κ_min) of a front row: a DCL's settings, or `dense` at its fixed widths."""
    settings = row["settings"]
    if row["method"] == "dense":
        return "dense at " + ", ".join(f"{k}={v}" for k, v in sorted(settings["widths"].items())), "", ""
    alpha, kappa_min = _dcl_point(settings)
    return "dcl", f"{alpha:g}", f"{kappa_min:g}"


def _dcl_point(settings: dict[str, Any]) -> tuple[float, float]:
    """(α, κ_min) of a `dcl` run; a record carries every setting, and `dcl`'s defaults (1, 0.125) fill
    in for hand-made ones."""
    return float(settings.get("alpha", 1.0)), float(settings.get("kappa_min", 0.125))


def paper_markdown(table: pd.DataFrame, claims: pd.DataFrame, fronts: pd.DataFrame) -> str:
    """`paper.md`: how the tables are built, the claims, the side-by-side table and the α-fronts."""
    parts = [
        "# Paper versus suite",
        "",
        "Published rows: Gómez & Bäckström (2026), arXiv 2601.13704 (see `bench/report/paper_results.csv`), "
        "in the paper's own units; suite rows: this run, mean over seeds with its 95 % bootstrap interval over "
        "seeds and test items in brackets (cost fraction: mean ± sample std). Each side is compared with its "
        "own full model: cost as a fraction of it (the paper's FLOP/s, the suite's fvcore MACs), EER as a "
        "difference in points (suite: paired by seed and test item). A configuration is named by the model it "
        "runs: the paper's model, or the CPU stand-in for it. The suite runs on its offline corpora unless the "
        "configuration names a real one.",
        "",
    ]
    if len(claims):
        parts += [
            "## The paper's claims",
            "",
            "Confirmed or refuted when the suite's 95 % interval lies wholly within or beyond the claim's bound; "
            "otherwise not resolved (an interval over seeds only never resolves).",
            "",
            markdown_table(list(claims.columns), claims.astype(str).values.tolist()),
            "",
        ]
    parts += ["## Side by side", "", markdown_table(list(table.columns), table.astype(str).values.tolist()), ""]
    if len(fronts):
        parts += [
            "## The DCLs' own fronts",
            "",
            "Penalty mode at each α (κ_min is only the floor): where the DCL stopped, what it costs and what it "
            "lost against the same seed's full model; beside it, `dense` built at fixed widths, the controls. "
            "Widths: the mean over seeds of each learned knob.",
            "",
            markdown_table(list(fronts.columns), fronts.astype(str).values.tolist()),
            "",
        ]
    return "\n".join(parts)


def model_name(settings: dict[str, Any]) -> str:
    """The model a configuration runs, named for what it is: the paper's model, or a stand-in."""
    model = settings.get("model", "")
    if model == "paper-crnn":
        width = settings.get("paper_width", 1.0)
        return "the paper's CRNN" if width == 1 else f"paper-crnn ×{width:g}, the CPU stand-in for the paper's CRNN"
    if model == "paper-transformer":
        layers = settings.get("layers", 2)
        return "the paper's Transformer" if layers == 2 else f"paper-transformer with {layers} layers, a stand-in"
    blocks, width = settings.get("blocks"), settings.get("width_multiplier")
    if model != "resnet34" or blocks is None or width is None:
        return model
    if tuple(blocks) == RESNET34_BLOCKS and width == 1:
        return "ResNet34"
    layout = ",".join(str(b) for b in blocks)
    return f"ResNet ({layout}) ×{width:g}, the CPU stand-in for ResNet34"


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


def _penalty_on(settings: dict[str, Any], knobs: set[str]) -> bool:
    """Whether a `dcl` run is in penalty mode on one of `knobs` (as `_knobs_of` spells them)."""
    return settings.get("mode") == "penalty" and ",".join(settings.get("knobs") or ()) in knobs


def _knobs_of(match: str) -> str:
    """The `knobs` value a `match` asks for ("" for every knob)."""
    return next((c.partition("=")[2] for c in match.split(";") if c.startswith("knobs=")), "")


def _paired(mine: pd.DataFrame, theirs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows of `mine` and `theirs` of the seeds both have, aligned by seed (one row per seed)."""
    left = mine.drop_duplicates("seed").set_index("seed")
    right = theirs.drop_duplicates("seed").set_index("seed")
    seeds = sorted(set(left.index) & set(right.index))
    return left.loc[seeds].reset_index(), right.loc[seeds].reset_index()


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


def _suite_row(name: str, system: str, rows: pd.DataFrame, full: pd.DataFrame, reps: Replicates) -> dict[str, Any]:
    """Each seed's candidate of `rows` against the same seed's full model; `widths` lists the
    distinct widths the seeds have where they differ from the full model's."""
    left, right = _paired(rows, full)
    diff, low, high, over = paired_interval(left, right, reps)
    eer_low, eer_high, eer_over = seed_interval(left, reps)
    fractions = (left["macs"].to_numpy(float) / right["macs"].to_numpy(float)).tolist()
    widths = sorted(
        {
            ", ".join(f"{k}={v}" for k, v in sorted(mine_w.items()) if v != full_w.get(k)) or "full"
            for mine_w, full_w in zip(left["widths"], right["widths"])
        }
    )
    return {
        "configuration": name,
        "system": system,
        "source": "suite (fvcore MACs)",
        "seeds": len(left),
        "widths": "; ".join(widths),
        "params": _spread(left["params"].tolist(), ",.0f"),
        "cost fraction": _spread(fractions, ".3f"),
        "Δ eer (pt)": _with_interval(diff, low, high, over),
        "eer": _with_interval(float(left["metric"].mean()), eer_low, eer_high, eer_over, sign=""),
    }


def _no_costlier(runs: pd.DataFrame, theirs: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Of `runs`, the configuration (α, κ_min) of the highest mean MACs no higher than `theirs`'s
    mean, and its name; empty when none is that cheap."""
    if runs.empty or theirs.empty:
        return runs.iloc[:0], ""
    ceiling = float(theirs["macs"].mean())
    key = runs["settings"].map(_dcl_point)
    costs = runs.groupby(key)["macs"].mean()
    cheap = costs[costs <= ceiling]
    if cheap.empty:
        return runs.iloc[:0], ""
    alpha, kappa_min = cheap.idxmax()
    method = str(runs["method"].iloc[0])
    chosen = runs[key.map(lambda k: k == (alpha, kappa_min))]
    return chosen, f"{method} α {alpha:g}, κ_min {kappa_min:g} (the costliest no costlier)"


def _published_difference(published: dict[str, dict[str, str]], claim: Claim) -> float | None:
    left = claim.paper_mine or claim.mine
    mine, theirs = published.get(_published_match(left)), published.get(_published_match(claim.theirs))
    if mine is None or theirs is None:
        return None
    return float(mine["eer"]) - float(theirs["eer"])


def _published_match(match: str) -> str:
    """A claim's `match` as `paper_results.csv` spells it (settings in the CSV's order)."""
    for row in published_rows():
        if set(row["match"].split(";")) == set(match.split(";")):
            return row["match"]
    return match


def _describe(match: str) -> str:
    """A short name for a `match`: `dense x1`, `dcl κ_min 0.25`, `noisy-gates budget 0.375`."""
    if match == FULL:
        return "full model"
    settings = dict(c.partition("=")[::2] for c in match.split(";"))
    name = settings.pop("method")
    if "kappa_min" in settings:
        return f"{name} κ_min {settings['kappa_min']}"
    if "budget" in settings:
        return f"{name} budget {settings['budget']}"
    return name


def _claim_verdict(claim: Claim, low: float, high: float, over: str) -> str:
    if over != ITEMS_AND_SEEDS or not (math.isfinite(low) and math.isfinite(high)):
        return UNRESOLVED
    within = high < claim.bound if claim.strict else high <= claim.bound
    beyond = low >= claim.bound if claim.strict else low > claim.bound
    return CONFIRMED if within else REFUTED if beyond else UNRESOLVED


def _mean_widths(rows: pd.DataFrame, knobs: list[str]) -> str:
    names = knobs if knobs != [""] else sorted({k for w in rows["widths"] for k in w})
    return ", ".join(f"{k} {sum(w[k] for w in rows['widths']) / len(rows):.1f}" for k in names)


def _with_interval(value: float, low: float, high: float, over: str, sign: str = "+") -> str:
    spec = f"{sign}.2f"
    text = f"{format(value, spec)} [{format(low, spec)}, {format(high, spec)}]"
    return text if over == ITEMS_AND_SEEDS else f"{text} (seeds only)"


def _spread(values: list[float], spec: str) -> str:
    values = [float(v) for v in values]
    if not values:
        return ""
    mean = sum(values) / len(values)
    if len(values) == 1:
        return format(mean, spec)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return f"{format(mean, spec)} ± {format(std, spec.lstrip('+'))}"
