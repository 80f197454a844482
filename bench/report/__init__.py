"""Reports: records -> pandas -> per-task leaderboards (Markdown, CSV, LaTeX) and Pareto plots.

`write_report` is the entry point; the pieces are public for notebooks and tests. seaborn and
matplotlib load only when a plot is drawn.
"""

from bench.report.frame import candidates_table, records_frame
from bench.report.leaderboard import BoardInfo, board_info, failed_cells, leaderboard
from bench.report.pareto import (
    DEFAULT_BUDGETS,
    hypervolume,
    normalised_metric,
    pareto_front,
    seed_budget_metrics,
    seed_hypervolumes,
)
from bench.report.write import atomic_write, write_report

__all__ = [
    "DEFAULT_BUDGETS",
    "BoardInfo",
    "atomic_write",
    "board_info",
    "candidates_table",
    "failed_cells",
    "hypervolume",
    "leaderboard",
    "normalised_metric",
    "pareto_front",
    "records_frame",
    "seed_budget_metrics",
    "seed_hypervolumes",
    "write_report",
]
