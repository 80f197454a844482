"""`write_report`: records -> per-task leaderboards, candidate tables, Pareto plots and a web page on disk.

Layout under `out_dir` (one folder per task; `<task>__<corpus>` when a task has several corpora,
since a front never mixes corpora):

    README.md                 index: the overview figure, then each task's leaderboard embedded
    index.html                the same as an offline web page with interactive plots (`bench.report.site`)
    overview.png, .svg        every task's Pareto plot, one panel each (only when there are records)
    <task>/leaderboard.md     header facts, table, notes, reference points, breakdown, failed cells, plot
    <task>/leaderboard.csv    numeric columns (`_mean`/`_std`/`_seeds`, no "±" strings)
    <task>/table.tex          paper-ready one-column table (`bench.report.table_tex`); table-wide.tex: `table*`
    <task>/target.md          cost at the task's quality target, per method and axis (`bench.report.target`)
    <task>/thresholds.md, .csv   detection tasks: error at the dev threshold, shift from dense's
    <task>/cost_vs_latency.md  MACs vs measured latency: rank correlation, paper-only savings
    <task>/leaderboard.<axis>.md, .csv   the same leaderboard on every cost axis (`bench.report.axes`),
                              side by side; the plain files rank by `cost` (default MACs)
    <task>/candidates.csv     every successful method candidate, flattened
    <task>/records.jsonl.gz, replicates.jsonl.gz   the data behind the tables (`bench.report.bundle`):
                              `report <task folder>` recomputes every file from them
    <task>/peers.csv          the task's reference systems (only when it has any)
    <task>/breakdown.csv      secondary metrics at `breakdown_budget` (only when records report any)
    <task>/pareto.png         150 dpi
    <task>/pareto.svg
    <task>/pareto.column.pdf  for print: 3.3 in wide (one column), 7-8 pt text, fonts embedded
    <task>/pareto.wide.pdf    the same 7 in wide (two columns)

Reference systems (records of the pseudo-method `frame.PEERS`) are not a method: they have no
leaderboard row and no colour, and appear in peers.csv, the reference-point table, the breakdown
and as black stars in the plot (see `bench.report.peers`). An optional file that a board does not
produce is removed from its folder, so an old one never outlives the data it came from.

Every file is written to a temporary file in its folder, and only once all are whole are they moved
into place with `os.replace` (`core.files.write_all`): a killed report leaves whole old files or whole
new ones, and one that fails (a full disk) leaves the old report as it was. The same records (in any order) give the
same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from tradeoff_bench.bench.files import write_all
from tradeoff_bench.bench.report.axes import COST_AXES, DEFAULT_AXIS, cost_axis
from tradeoff_bench.bench.report.bootstrap import Replicates, board_replicates, with_intervals
from tradeoff_bench.bench.report.breakdown import (
    DEFAULT_BREAKDOWN_BUDGET,
    breakdown_markdown,
    breakdown_metrics,
    breakdown_table,
)
from tradeoff_bench.bench.report.bundle import RECORDS_FILE, REPLICATES_FILE, records_bytes, replicates_bytes
from tradeoff_bench.bench.report.format import leaderboard_markdown
from tradeoff_bench.bench.report.frame import boards, candidates_table, method_rows, ok_rows, records_frame
from tradeoff_bench.bench.report.leaderboard import BoardInfo, board_info, failed_cells, leaderboard
from tradeoff_bench.bench.report.paper import alpha_fronts, paper_claims, paper_markdown, paper_table
from tradeoff_bench.bench.report.pareto import DEFAULT_BUDGETS
from tradeoff_bench.bench.report.peers import peer_table, peers_markdown
from tradeoff_bench.bench.report.rank_agreement import agreement_markdown, rank_agreement
from tradeoff_bench.bench.report.real_cost import cost_vs_latency_markdown
from tradeoff_bench.bench.report.site import SiteBoard, site_html
from tradeoff_bench.bench.report.style import method_styles
from tradeoff_bench.bench.report.table_tex import TEX_BUDGETS, table_tex, tex_label
from tradeoff_bench.bench.report.target import board_target, target_markdown, target_table
from tradeoff_bench.bench.report.thresholds import threshold_markdown, threshold_table
from tradeoff_bench.core.records import Record, slug
from tradeoff_bench.core.registry import natural_key
from tradeoff_bench.tasks.targets import QualityTarget

CSV_FLOAT_FORMAT = "%.10g"
OPTIONAL_FILES = (
    "peers.csv",
    "breakdown.csv",
    "rank_agreement.csv",
    "thresholds.md",
    "thresholds.csv",
    "table.tex",
    "table-wide.tex",
)
RETIRED_FILES = ("leaderboard.tex",)
"""Files an older version of `report` wrote: removed, so they do not outlive the data they came from."""


def write_report(
    records: Iterable[Record],
    out_dir: Path,
    budgets: Sequence[float] = DEFAULT_BUDGETS,
    breakdown_budget: float = DEFAULT_BREAKDOWN_BUDGET,
    run_dirs: Mapping[str, Path] | None = None,
    cost: str = DEFAULT_AXIS,
    targets: Mapping[str, QualityTarget] | None = None,
    tex_budgets: Sequence[float] = TEX_BUDGETS,
    published: Replicates | None = None,
) -> list[Path]:
    """Write the report of `records` under `out_dir`; returns the written paths (README last).

    `run_dirs` maps record ids to their run directory, where the per-item scores files are
    (`bench.report.bootstrap`); `published` holds the replicates of records read from a published
    board (`bench.report.bundle`); records with neither get no item intervals and say so.

    `budgets` are the leaderboard's metric-at-budget columns; `breakdown_budget` the MACs fraction
    at which each seed's candidate is selected for the breakdown (see `bench.report.breakdown`).
    `cost` is the axis the leaderboards, budgets, hypervolumes, plots and verdicts rank by; every
    axis also gets its own `leaderboard.<axis>.{md,csv}`. `targets` overrides tasks' quality targets
    (task name, or "*" for every task -> target) in `target.md`. `tex_budgets` are the columns of
    the paper-ready `table.tex` and `table-wide.tex` (`bench.report.table_tex`).
    """

    out_dir = Path(out_dir)
    records = list(records)
    cost = cost_axis(cost).name
    frame = records_frame(records, cost)
    axis_frames = {axis: frame if axis == cost else records_frame(records, axis) for axis in COST_AXES}
    methods = sorted(method_rows(frame)["method"].unique(), key=natural_key)  # one look per method everywhere
    styles = method_styles(methods)
    several = frame.groupby("task")["corpus"].nunique()
    written: dict[Path, str | bytes] = {}  # written together at the end: a failure changes nothing
    stale: list[Path] = []
    sections: list[str] = []
    site: list[SiteBoard] = []
    every_replicate = Replicates()  # of every board: the paper table pairs within a configuration
    for task, corpus, board in boards(frame):
        folder = task if several[task] == 1 else f"{task}__{slug(corpus)}"
        info = board_info(board)
        ids = set(board["record_id"])
        replicates = board_replicates(ok_rows(method_rows(board)), run_dirs or {}, known=published)
        every_replicate.values.update(replicates.values)
        every_replicate.notes.update(replicates.notes)
        board = with_intervals(board, replicates)
        table = leaderboard(board, budgets, replicates)
        failed = failed_cells(board)
        peers = peer_table(board, breakdown_metrics(board))
        breakdown = breakdown_table(board, breakdown_budget)
        agreement = rank_agreement(board)
        files: dict[str, str | bytes] = {
            "leaderboard.md": leaderboard_markdown(
                table,
                info,
                failed,
                budgets,
                extra=_extra_markdown(agreement, peers, breakdown, info, breakdown_budget, 1),
            ),
            "leaderboard.csv": _csv(table),
            "candidates.csv": _csv(candidates_table(board)),
            RECORDS_FILE: records_bytes(r for r in records if r.record_id in ids),
            REPLICATES_FILE: replicates_bytes(replicates),
        }
        for axis, axis_frame in axis_frames.items():
            if axis == cost:  # the board's own axis: its leaderboard is `table`
                axis_board, axis_table = board, table
            else:
                axis_board = axis_frame[(axis_frame["task"] == task) & (axis_frame["corpus"] == corpus)]
                axis_board = with_intervals(axis_board, replicates)
                axis_table = leaderboard(axis_board, budgets, replicates)
            files[f"leaderboard.{axis}.md"] = leaderboard_markdown(axis_table, board_info(axis_board), failed, budgets)
            files[f"leaderboard.{axis}.csv"] = _csv(axis_table)
        files["cost_vs_latency.md"] = cost_vs_latency_markdown(board, info)
        overrides = targets or {}
        target = board_target(board, overrides.get(task, overrides.get("*")))
        reached = target_table(records, board, info, target)
        files["target.md"] = target_markdown(reached, info, target)
        tex = leaderboard(board, tex_budgets, replicates, verdict_budgets=tex_budgets)
        for name, wide in (("table.tex", False), ("table-wide.tex", True)):
            if len(tex):
                files[name] = table_tex(tex, info, tex_budgets, tex_label(folder, wide), wide, reached, target)
        thresholds = threshold_table(board)
        if len(thresholds):
            files["thresholds.md"] = threshold_markdown(thresholds, info)
            files["thresholds.csv"] = _csv(thresholds)
        if len(agreement):
            files["rank_agreement.csv"] = _csv(agreement)
        if len(peers):
            files["peers.csv"] = _csv(peers)
        if len(breakdown):
            files["breakdown.csv"] = _csv(breakdown)
        from tradeoff_bench.bench.report.plots import PRINT_SIZES, pareto_figure_bytes, pareto_pdf_bytes

        files["pareto.png"], files["pareto.svg"] = pareto_figure_bytes(board, info, methods)
        for size in PRINT_SIZES:  # pareto.column.pdf, pareto.wide.pdf
            files[f"pareto.{size}.pdf"] = pareto_pdf_bytes(board, info, methods, size)
        site.append(SiteBoard(folder, board, info, table, failed, peers, breakdown))
        written.update({out_dir / folder / name: content for name, content in files.items()})
        stale += [out_dir / folder / name for name in (*OPTIONAL_FILES, *RETIRED_FILES) if name not in files]
        sections.append(f"- [{info.task} ({info.corpus})]({folder}/leaderboard.md)")
        sections.append(
            leaderboard_markdown(
                table,
                info,
                failed,
                budgets,
                image=f"{folder}/pareto.png",
                level=2,
                extra=_extra_markdown(agreement, peers, breakdown, info, breakdown_budget, 2),
            )
        )
    paper = paper_table(frame, every_replicate)
    if len(paper):
        claims, fronts = paper_claims(frame, every_replicate), alpha_fronts(frame, every_replicate)
        written[out_dir / "paper.md"] = paper_markdown(paper, claims, fronts)
        written[out_dir / "paper.csv"] = _csv(paper)
        sections.insert(0, "- [Paper versus suite](paper.md)")
    else:  # a report rewritten from records without the paper's experiments keeps no stale table
        stale += [out_dir / "paper.md", out_dir / "paper.csv"]
    index = ["# tradeoff-bench results\n", *[s for s in sections if s.startswith("- [")], ""]
    overview = None
    if site:
        from tradeoff_bench.bench.report.plots import overview_figure_bytes

        overview = "overview.png"
        png, svg = overview_figure_bytes([(b.board, b.info) for b in site], methods)
        written[out_dir / overview], written[out_dir / "overview.svg"] = png, svg
        index += [
            "Open [index.html](index.html) in a browser for interactive plots and sortable tables.\n",
            f"![Pareto fronts of every task]({overview})\n",
        ]
    else:
        stale += [out_dir / "overview.png", out_dir / "overview.svg"]
    index += [s for s in sections if not s.startswith("- [")]
    if frame.empty:
        index.append("No records.\n")
    written[out_dir / "index.html"] = site_html(site, styles, budgets, breakdown_budget, overview)
    written[out_dir / "README.md"] = "\n".join(index)
    return write_all(written, remove=stale)


def _extra_markdown(
    agreement: pd.DataFrame, peers: pd.DataFrame, breakdown: pd.DataFrame, info: BoardInfo, budget: float, level: int
) -> list[str]:
    """The proxy-versus-real, peers and breakdown sections under a leaderboard at heading `level`,
    those not empty."""
    blocks = [
        agreement_markdown(agreement, info.metric, info.axis_label, level),
        peers_markdown(peers, info, level),
        breakdown_markdown(breakdown, info, budget, level),
    ]
    return [block for block in blocks if block]


def _csv(table: pd.DataFrame) -> str:
    return table.to_csv(index=False, float_format=CSV_FLOAT_FORMAT, lineterminator="\n")
