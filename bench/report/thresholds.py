"""Detection thresholds after compression (`thresholds.md`, `thresholds.csv`): the operating point EER hides.

EER picks its threshold on the test set itself. A deployed detector runs at a threshold fixed
beforehand; here, each candidate's own EER threshold on dev (`Record.operating_point`, measured by
`bench.measure.operating_point`). Per candidate: the test EER, the test error at the dev threshold
(mean of miss and false-alarm rates, %, with both), and the shift of its dev threshold from the full
dense model's (`dense` at the full MACs, same seed; the median over seeds where that seed has none).
A compressed model whose threshold moves must be re-calibrated before it replaces the full one.
"""

from __future__ import annotations

import math

import pandas as pd

from tradeoff_bench.bench.report.format import markdown_table, number
from tradeoff_bench.bench.report.frame import method_rows
from tradeoff_bench.bench.report.leaderboard import BoardInfo
from tradeoff_bench.core.registry import natural_key

CONTROL = "dense"
COLUMNS = [
    "method",
    "label",
    "seed",
    "test_eer",
    "test_error_at_dev_threshold",
    "test_miss_at_dev_threshold",
    "test_false_alarm_at_dev_threshold",
    "dev_threshold",
    "threshold_shift",
]


def threshold_table(board: pd.DataFrame) -> pd.DataFrame:
    """One row per successful method candidate with an operating point (empty when none has one)."""
    rows = method_rows(board)
    rows = rows[(rows["status"] == "ok") & rows["operating_point"].map(lambda p: bool(p))]
    if rows.empty:
        return pd.DataFrame(columns=COLUMNS)
    full = rows[(rows["method"] == CONTROL) & (rows["macs"] == rows["full_macs"])]
    by_seed = {int(r["seed"]): float(r["operating_point"]["dev_threshold"]) for _, r in full.iterrows()}
    fallback = float(pd.Series(list(by_seed.values())).median()) if by_seed else math.nan
    table = []
    for _, r in rows.iterrows():
        point = r["operating_point"]
        reference = by_seed.get(int(r["seed"]), fallback)
        table.append(
            {
                "method": r["method"],
                "label": r["label"],
                "seed": int(r["seed"]),
                "test_eer": float(r["metric"]),
                **{name: float(point.get(name, math.nan)) for name in COLUMNS[4:8]},
                "threshold_shift": float(point["dev_threshold"]) - reference,
            }
        )
    frame = pd.DataFrame(table, columns=COLUMNS)
    order = {method: index for index, method in enumerate(sorted(frame["method"].unique(), key=natural_key))}
    frame["_key"] = frame["method"].map(order)
    frame = frame.sort_values(["_key", "seed", "label"], kind="mergesort").drop(columns="_key")
    return frame.reset_index(drop=True)


def threshold_markdown(table: pd.DataFrame, info: BoardInfo) -> str:
    parts = [f"# Detection thresholds: {info.task} ({info.corpus})\n"]
    parts.append(
        "- Test EER picks its threshold on test; deployed, a model runs at the threshold chosen on dev. "
        "Error at dev threshold: the mean of the test miss and false-alarm rates there (%); shift: the "
        f"candidate's dev threshold minus the full `{CONTROL}` model's (same seed), in score units\n"
    )
    rows = [
        [
            str(r["method"]),
            str(r["label"]),
            str(r["seed"]),
            number(r["test_eer"], ".4g"),
            number(r["test_error_at_dev_threshold"], ".4g"),
            f"{number(r['test_miss_at_dev_threshold'], '.3g')} / {number(r['test_false_alarm_at_dev_threshold'], '.3g')}",
            number(r["dev_threshold"], ".3g"),
            number(r["threshold_shift"], "+.3g"),
        ]
        for _, r in table.iterrows()
    ]
    headers = ["method", "label", "seed", "test EER", "error at dev threshold", "miss / FA", "dev threshold", "shift"]
    parts.append(markdown_table(headers, rows))
    return "\n".join(parts)
