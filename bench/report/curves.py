"""Learning curves: how far each training schedule of a run is from the best one measured.

A task's default epochs (and learning rate) are chosen from a learning curve of its full dense model
(`bench/grids/curves.toml`): the same model trained with several schedules, each kept at its best
dev epoch (`methods.training.fit`). `curve_table` puts one row per schedule: the means over seeds of
the selected epoch's dev metric and dev loss, of the test metric and of the training time, and how
many seeds' fits the convergence rule judged converged. A *recipe* is every task setting but
`epochs` that varies between the run's records of a task (e.g. `lr=0.01`); within a recipe,
`dev_gap` is the relative distance of the schedule's mean dev metric from the recipe's best, and
`dev_loss_gap` the same for the dev loss (the tie-break where a dev metric saturates, e.g. 0 % EER).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from tradeoff_bench.core.records import Record

CURVE_COLUMNS = (
    "task",
    "corpus",
    "label",
    "recipe",
    "epochs",
    "seeds",
    "dev",
    "dev_loss",
    "test",
    "converged",
    "train_seconds",
    "dev_gap",
    "dev_loss_gap",
)


def curve_table(records: Iterable[Record]) -> pd.DataFrame:
    """One row per (task, corpus, candidate label, recipe, epochs), means over seeds; see the module."""
    rows = [_row(record) for record in records if record.status == "ok" and record.facts.get("history")]
    if not rows:
        return pd.DataFrame(columns=list(CURVE_COLUMNS))
    frame = pd.DataFrame(rows)
    frame["recipe"] = _recipes(frame)
    keys = ["task", "corpus", "label", "recipe", "epochs"]
    table = frame.groupby(keys, sort=True).agg(
        seeds=("seed", "nunique"),
        dev=("dev", "mean"),
        dev_loss=("dev_loss", "mean"),
        test=("test", "mean"),
        converged=("converged", "sum"),
        train_seconds=("train_seconds", "mean"),
        higher_is_better=("higher_is_better", "first"),
    )
    table = table.reset_index()
    recipe = table.groupby(keys[:-1], sort=False)
    best_dev = recipe["dev"].transform("max").where(table["higher_is_better"], recipe["dev"].transform("min"))
    table["dev_gap"] = _gap(table["dev"], best_dev)
    table["dev_loss_gap"] = _gap(table["dev_loss"], recipe["dev_loss"].transform("min"))
    return table[list(CURVE_COLUMNS)]


def curve_markdown(table: pd.DataFrame) -> str:
    """The table as Markdown, gaps as percentages."""
    headers = ["task", "corpus", "candidate", "recipe", "epochs", "seeds", "dev", "dev loss", "test"]
    headers += ["converged", "train s", "dev gap", "dev-loss gap"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in table.itertuples(index=False):
        cells = [row.task, f"`{row.corpus}`", row.label, row.recipe or "default", str(row.epochs), str(row.seeds)]
        cells += [_number(row.dev), _number(row.dev_loss), _number(row.test), f"{row.converged} of {row.seeds}"]
        cells += [f"{row.train_seconds:.0f}", _percent(row.dev_gap), _percent(row.dev_loss_gap)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _row(record: Record) -> dict[str, Any]:
    kept = next((e for e in record.facts["history"] if e.get("selected")), record.facts["history"][-1])
    settings = {k: v for k, v in record.task_settings.items() if k != "epochs"}
    return {
        "task": record.task,
        "corpus": record.corpus,
        "label": record.label,
        "settings": settings,
        "epochs": int(record.task_settings.get("epochs", record.train_epochs or 0)),
        "seed": record.seed,
        "dev": float(kept.get("dev", np.nan)),
        "dev_loss": float(kept.get("dev_loss", np.nan)),
        "test": float(record.metrics.get(record.primary_metric, np.nan)),
        "converged": record.facts.get("converged") is True,
        "train_seconds": float(record.train_seconds or np.nan),
        "higher_is_better": bool(record.higher_is_better),
    }


def _recipes(frame: pd.DataFrame) -> pd.Series:
    """Per row, `key=value` of the task settings (but epochs) that vary among its task's records."""
    recipes = pd.Series("", index=frame.index, dtype=object)
    for _, rows in frame.groupby("task", sort=False):
        keys = sorted({k for s in rows["settings"] for k in s})
        varying = [k for k in keys if len({repr(s.get(k)) for s in rows["settings"]}) > 1]
        for index, settings in rows["settings"].items():
            recipes[index] = " ".join(f"{k}={settings.get(k)}" for k in varying)
    return recipes


def _gap(values: pd.Series, best: pd.Series) -> pd.Series:
    """|value - best| / |best|; 0 where both are 0, inf where only the best is."""
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = (values - best).abs() / best.abs()
    return gap.where(best != 0, np.where(values == best, 0.0, np.inf))


def _number(value: float) -> str:
    return "–" if pd.isna(value) else f"{value:.4g}"


def _percent(value: float) -> str:
    return "–" if pd.isna(value) else ("∞" if np.isinf(value) else f"{100 * value:.1f} %")
