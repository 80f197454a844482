"""Reports: records -> pandas -> per-task leaderboards (Markdown, CSV, paper-ready LaTeX), Pareto plots and an
offline web page, with each task's reference points (peers) and a breakdown of its secondary metrics.

`write_report` is the entry point; the pieces are public for notebooks and tests. seaborn and
matplotlib load only when a plot is drawn, plotly when the page is written.
"""

from tradeoff_bench.bench.report.breakdown import (
    DEFAULT_BREAKDOWN_BUDGET,
    breakdown_metrics,
    breakdown_table,
    metric_order,
    selected_candidates,
)
from tradeoff_bench.bench.report.frame import PEERS, candidates_table, method_rows, peer_rows, records_frame
from tradeoff_bench.bench.report.leaderboard import BoardInfo, board_info, failed_cells, leaderboard
from tradeoff_bench.bench.report.pareto import (
    DEFAULT_BUDGETS,
    hypervolume,
    label_front,
    normalised_metric,
    pareto_front,
    seed_budget_metrics,
    seed_hypervolumes,
)
from tradeoff_bench.bench.report.peers import peer_table
from tradeoff_bench.bench.report.write import write_report

__all__ = [
    "DEFAULT_BREAKDOWN_BUDGET",
    "DEFAULT_BUDGETS",
    "PEERS",
    "BoardInfo",
    "board_info",
    "breakdown_metrics",
    "breakdown_table",
    "candidates_table",
    "failed_cells",
    "hypervolume",
    "label_front",
    "leaderboard",
    "method_rows",
    "metric_order",
    "normalised_metric",
    "pareto_front",
    "peer_rows",
    "peer_table",
    "records_frame",
    "seed_budget_metrics",
    "seed_hypervolumes",
    "selected_candidates",
    "write_report",
]
