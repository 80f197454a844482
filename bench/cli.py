"""`tradeoff-bench`: list what is registered, run grids, write reports.

Exit status: 0 success; 1 `run` finished but some cells of the grid failed (their count is the
last line printed); 2 a user or environment error (a `core.errors.UserError`: unknown name, bad
setting, malformed grid or record, a run of a newer suite, missing data root, an executor that
cannot be set up; or an `OSError`: unwritable output, full disk), reported as one `error:` line
on stderr, before anything is written where that can be checked
first; 130 interrupted; 141 its output pipe was closed (`| head`), as for any program
ended by SIGPIPE. Nothing here imports torch until a command needs it, so `list`, `--help`
and argument errors answer at once.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradeoff_bench.bench.errors import ExecutorError, GridError, StoreError
from tradeoff_bench.bench.files import atomic_write, folders_removed_on_failure
from tradeoff_bench.core.errors import UserError

if TYPE_CHECKING:
    from tradeoff_bench.bench.executors import Executor
    from tradeoff_bench.bench.grid import Cell

EXIT_OK, EXIT_CELLS_FAILED, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 0, 1, 2, 130, 141


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        return args.command(args)
    except UserError as err:  # caused by input, data or environment; anything else is a bug: its traceback
        return _error(str(err))
    except BrokenPipeError:  # the reader of stdout has gone (`| head`): stop quietly, as `ls` would
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as err:  # the machine, not the suite: a full disk, a folder that cannot be written
        return _error(describe_os_error(err))
    except KeyboardInterrupt:
        print("interrupted: finished cells are kept; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        _flush_quietly()


def describe_os_error(err: OSError) -> str:
    """One line for an operating-system error, naming the file and saying "disk full" when it is."""
    reason = "disk full" if err.errno == errno.ENOSPC else (err.strerror or str(err))
    where = f"{err.filename}: " if err.filename else ""
    return f"{where}{reason}"


def _error(message: str) -> int:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)  # one line, always
    return EXIT_ERROR


def _flush_quietly() -> None:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's own flush at exit cannot fail again."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tradeoff-bench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    plugins = argparse.ArgumentParser(add_help=False)
    plugins.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE_OR_FILE",
        help="import a module or .py file that registers tasks or methods (repeatable)",
    )

    listing = sub.add_parser("list", parents=[plugins], help="list registered tasks, methods and metrics")
    listing.add_argument("pattern", nargs="?", default="*", help="shell-style name pattern")
    listing.add_argument("--kind", choices=("tasks", "methods", "metrics", "all"), default="all")
    listing.add_argument("--task", help="list this task's width knobs instead: full widths and the MACs each controls")
    listing.add_argument(
        "--task-set", action="append", default=[], metavar="KEY=VALUE", help="with --task: a task setting (e.g. model=)"
    )
    listing.set_defaults(command=_list)

    run = sub.add_parser("run", parents=[plugins], help="run a grid file, or one task x method ad hoc")
    run.add_argument("grid", nargs="?", type=Path, help="grid file (TOML); omit for the ad-hoc form")
    run.add_argument("--task", help="ad hoc: task name")
    run.add_argument(
        "--method",
        action="append",
        default=[],
        help="ad hoc: method name; repeat it or give a comma list (dense,dcl) to compare several in one run",
    )
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="method setting")
    run.add_argument("--task-set", action="append", default=[], metavar="KEY=VALUE", help="task setting")
    run.add_argument("--seeds", default="0", help="ad hoc: comma-separated seeds (default 0)")
    run.add_argument("--out", type=Path, help="output directory (default runs/<grid name> or runs/adhoc)")
    run.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="where cells run: this machine (default) or a Ray cluster",
    )
    run.add_argument(
        "--jobs",
        type=int,
        help="cells at once: local worker processes (default 1), "
        "or Ray cells in flight (default: as many as the cluster holds)",
    )
    run.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="Ray cluster to join (auto, or the head's "
        "host:6379; default $RAY_ADDRESS, else a local cluster is started)",
    )
    run.add_argument(
        "--cpus-per-cell",
        type=float,
        metavar="C",
        help="CPU cores per cell, also its torch "
        "threads (default 1, under every executor: the same cell gives the same records)",
    )
    run.add_argument(
        "--gpus-per-cell",
        type=float,
        default=0.0,
        metavar="G",
        help="GPUs per cell; above 0 cells run on CUDA (default 0)",
    )
    run.add_argument(
        "--cell-timeout",
        type=float,
        metavar="SECONDS",
        help="wall-clock limit per cell; a cell past it is stopped and recorded as failed",
    )
    run.add_argument("--retry-failed", action="store_true", help="run failed cells again")
    run.add_argument(
        "--rerun-stale",
        action="store_true",
        help="run again finished cells whose records "
        "were made by other code (another commit, or other uncommitted changes)",
    )
    run.add_argument(
        "--continue-from",
        action="append",
        type=Path,
        default=[],
        metavar="REPORT",
        help="a published report (e.g. results/paper, or one task folder of it) whose records count as "
        "finished cells: a board committed part-way by an earlier session goes on without running them "
        "again; report both with `report REPORT OUT --to REPORT` (repeatable)",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="one progress line per training epoch on stderr (local executor; Ray workers' output is not shown)",
    )
    run.add_argument(
        "--no-cache",
        action="store_true",
        help="train every phase in its own cell: no training cache in RUN/cache/ shared between cells",
    )
    run.add_argument(
        "--no-save-models",
        action="store_true",
        help="do not keep each candidate's weights in RUN/models/ (for huge grids)",
    )
    run.add_argument(
        "--no-latency",
        action="store_true",
        help="skip the latency phase that times every saved candidate after the cells (`latency RUN` runs it later)",
    )
    run.set_defaults(command=_run)

    latency = sub.add_parser(
        "latency", help="time the saved candidates of a run (eager PyTorch and ONNX Runtime), one at a time"
    )
    latency.add_argument("run_dir", metavar="RUN", type=Path, help="output directory of `run` (with models/)")
    latency.add_argument(
        "--max-seconds", type=float, default=20.0, help="longest time spent on one model per runtime (default 20)"
    )
    latency.set_defaults(command=_latency)

    evaluate = sub.add_parser("eval", help="re-score the saved candidates of a run on other data, without training")
    evaluate.add_argument("run_dir", metavar="RUN", type=Path, help="output directory of `run` (with models/)")
    evaluate.add_argument(
        "--task-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="task setting to evaluate with (e.g. data_seed=1 or speech_root=DIR)",
    )
    evaluate.add_argument("--out", type=Path, required=True, help="where the new records go (not RUN)")
    evaluate.add_argument(
        "--allow-overlap",
        action="store_true",
        help="evaluate even where the data share speakers or recordings with the training data, or change the "
        "task (refused otherwise); a warning and each record's facts name the overlap",
    )
    evaluate.set_defaults(command=_eval)

    data = sub.add_parser("data", help="offline corpora: list or generate them")
    data_sub = data.add_subparsers(required=True, metavar="ACTION")
    generate = data_sub.add_parser("generate", help="write a generated corpus in its real on-disk layout")
    generate.add_argument("corpus", help="corpus name (see `tradeoff-bench data list`)")
    generate.add_argument("--root", type=Path, required=True, help="folder to write it into")
    generate.add_argument("--seed", type=int, default=0, help="generation seed (default 0)")
    generate.set_defaults(command=_generate)
    corpora = data_sub.add_parser("list", help="list the corpora that can be generated")
    corpora.set_defaults(command=_list_corpora)

    predict = sub.add_parser(
        "predict",
        help="run a saved candidate on audio files (vad: RTTM + frame probabilities; asvspoof2019: a CM score file)",
    )
    predict.add_argument("model", type=Path, help="a saved model (RUN/models/<record>.safetensors or .pt)")
    predict.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="WAV/FLAC files or folders")
    predict.add_argument("--out", type=Path, required=True, help="folder for the predictions")
    predict.add_argument("--task", help="refuse a model of any other task")
    predict.set_defaults(command=_predict)

    export = sub.add_parser(
        "export",
        help="write a saved candidate as an ONNX graph (the onnx extra, which `make setup` installs)",
        description=(
            "Write a saved candidate as an ONNX graph: input 'input', output 'output', any batch size, and "
            "for the CRNNs any number of frames. The graph's metadata names the task, method, widths and the "
            "front end that makes the input from audio (input.sample_rate, input.feature, input.window, "
            "input.hop, input.input_shape); int8 candidates are refused."
        ),
    )
    export.add_argument("model", type=Path, help="a saved model (RUN/models/<record>.safetensors)")
    export.add_argument("--to", type=Path, required=True, metavar="FILE.onnx", help="the ONNX file to write")
    export.set_defaults(command=_export)

    report = sub.add_parser("report", help="write leaderboards and Pareto plots from a run directory")
    report.add_argument(
        "runs",
        nargs="+",
        type=Path,
        help="output directories of `run`, or published task folders (results/<task>, with records.jsonl.gz)",
    )
    report.add_argument(
        "--to",
        type=Path,
        help="where to write (default RUN/report; required for several runs; `make bench` publishes to results/)",
    )
    report.add_argument(
        "--cost",
        default="macs",
        metavar="AXIS",
        help="the cost axis to rank by (leaderboard.md, plots, budgets, hypervolume, verdicts): "
        "macs (default), bops, weight_bytes, peak_activation_bytes, latency_ms (or latency), onnx_latency_ms; "
        "every axis also gets leaderboard.<axis>.md and .csv",
    )
    report.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="[TASK=]TOLERANCE",
        help="quality target of target.md instead of the task's own: 5%% (relative) or +1 (metric units) "
        "from the full dense model's metric, for TASK or every task (repeatable)",
    )
    report.add_argument(
        "--tex-budgets",
        type=_budget_list,
        default=None,
        metavar="B1,B2,...",
        help="columns of the paper-ready table.tex and table-wide.tex: fractions of the full dense model's "
        "cost in (0, 1] (default 0.25,0.5,0.75)",
    )
    report.set_defaults(command=_report)

    curves = sub.add_parser(
        "curves", help="compare the training schedules of a run (bench/grids/curves.toml): dev, test, convergence"
    )
    curves.add_argument("runs", nargs="+", type=Path, help="output directories of `run`")
    curves.add_argument("--csv", type=Path, metavar="FILE", help="also write the table as CSV")
    curves.set_defaults(command=_curves)
    return parser


def _list(args: argparse.Namespace) -> int:
    from tradeoff_bench.bench.plugins import load_plugins
    from tradeoff_bench.methods import METHODS
    from tradeoff_bench.tasks import METRICS, TASKS

    load_plugins(args.plugin)
    if args.task:
        return _list_knobs(args.task, _parse_settings(args.task_set))
    if args.task_set:
        raise GridError("--task-set needs --task: the task whose knobs to list")
    kinds = ("tasks", "methods", "metrics") if args.kind == "all" else (args.kind,)
    rows: list[tuple[str, str, str]] = []
    if "tasks" in kinds:
        rows += [("task", n, TASKS.describe(n)) for n in TASKS.names(args.pattern)]
    if "methods" in kinds:
        rows += [("method", n, METHODS.describe(n)) for n in METHODS.names(args.pattern)]
    if "metrics" in kinds:
        for n in METRICS.names(args.pattern):
            m = METRICS.get(n)
            direction = "higher is better" if m.higher_is_better else "lower is better"
            rows.append(("metric", n, f"{m.description} ({direction}{', ' + m.unit if m.unit else ''})"))
    if not rows:
        print(f"nothing registered matches {args.pattern!r}", file=sys.stderr)
        return 1
    width = max(len(name) for _, name, _ in rows)
    for kind, name, text in rows:
        print(f"{kind:<7} {name:<{width}}  {text}")
    exact = [(kind, name) for kind, name, _ in rows if name == args.pattern and kind in ("task", "method")]
    for kind, name in exact:  # `list dcl`: the one named entry, with every setting it takes
        _print_settings(kind, TASKS.get(name) if kind == "task" else METHODS.get(name))
    return EXIT_OK


def _list_knobs(task_name: str, settings: dict[str, Any]) -> int:
    """`list --task T`: each width knob, its full width and the fvcore MACs that depend on it (the
    full model's less the model's with that knob at one channel), then what is not a knob."""
    from tradeoff_bench.core.flops import count_macs
    from tradeoff_bench.core.registry import configure
    from tradeoff_bench.tasks import TASKS

    try:
        task_obj = configure(TASKS.get(task_name), settings, f"task {task_name!r}")
    except (TypeError, ValueError) as err:
        raise GridError(str(err)) from None
    example = task_obj.example_input()
    full = count_macs(task_obj.build_model().eval(), example)
    print(f"{task_name} ({task_obj.settings().get('model', 'its model')}): {full:,} MACs per {task_obj.cost_unit}")
    if not task_obj.knobs:
        print("no width knobs")
    width = max((len(k) for k in task_obj.knobs), default=0)
    for knob, channels in task_obj.knobs.items():
        narrow = count_macs(task_obj.build_model({knob: 1}).eval(), example)
        share = (full - narrow) / full if full else 0.0
        print(f"  {knob:<{width}}  {channels:>5} channels  {full - narrow:>14,} MACs ({share:.1%})")
    family = getattr(task_obj, "user_family", None)
    for note in family.notes if family is not None else []:
        print(f"  note: {note}")
    return EXIT_OK


def _print_settings(kind: str, cls: type) -> None:
    from tradeoff_bench.core.settings_doc import setting_docs

    docs = setting_docs(cls)
    flag = "--task-set" if kind == "task" else "--set"
    print(f"\nsettings ({flag} KEY=VALUE; in a grid file, the entry's `settings` table):")
    table = [(d.name, d.type, d.default + (f" ({d.bounds})" if d.bounds else "")) for d in docs]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    for doc, row in zip(docs, table):
        print("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + (f"  {doc.doc}" if doc.doc else ""))
    if kind == "task" and any(d.name == "data_dir" for d in docs):
        print("\ndata: generated corpora are written under data_dir on first use (tradeoff-bench data list)")


def _generate(args: argparse.Namespace) -> int:
    from tradeoff_bench.tasks import CORPORA

    generator = CORPORA.get(args.corpus)
    if args.root.exists() and not args.root.is_dir():
        raise StoreError(f"--root {args.root} exists and is not a folder")
    try:
        with folders_removed_on_failure(args.root):  # a generator cleans its own partial corpus and lock
            generator.generate(args.root, args.seed)
    except OSError as err:
        if err.filename is None and not isinstance(err, UserError):  # name where, at least
            raise OSError(err.errno, err.strerror or str(err), str(args.root)) from err
        raise
    print(f"wrote {generator.name} to {args.root}")
    return EXIT_OK


def _list_corpora(args: argparse.Namespace) -> int:
    from tradeoff_bench.tasks import CORPORA

    names = CORPORA.names()
    width = max((len(n) for n in names), default=0)
    for name in names:
        print(f"{name:<{width}}  {CORPORA.get(name).description}")
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from tradeoff_bench.bench.cache import CACHE_DIR
    from tradeoff_bench.bench.driver import run_grid
    from tradeoff_bench.bench.plugins import load_plugins
    from tradeoff_bench.bench.report.bundle import published_cells
    from tradeoff_bench.bench.runner import show_training_log
    from tradeoff_bench.bench.store import Store

    load_plugins(args.plugin)
    if args.verbose:
        show_training_log()
    make_executor = _executor_factory(args)
    try:
        cells, out = _plan(args)
    except OSError as err:  # a grid path that is a folder, a task's data root checked as it is configured
        raise GridError(f"{err.filename}: {err.strerror}" if err.filename and err.strerror else str(err)) from None
    published = published_cells(args.continue_from, _corpus_versions(cells)) if args.continue_from else None
    store = Store(out, save_models=not args.no_save_models)
    cache_dir = None if args.no_cache else str((out / CACHE_DIR).resolve())  # absolute: Ray workers' cwd differs
    timed = not args.no_latency and not args.no_save_models
    summary = run_grid(
        cells,
        store,
        lambda: make_executor(cache_dir),
        retry_failed=args.retry_failed,
        rerun_stale=args.rerun_stale,
        progress=not args.no_progress,
        after_cells=(lambda: _time_run(store.root, progress=not args.no_progress)) if timed else None,
        published=published,
    )
    print(summary.describe())
    for record in summary.failed:
        print(f"  failed: {record.task}/{record.method} seed={record.seed}: {record.error}")
    for line in _candidate_lines(summary.made):
        print(line)
    print(f"records: {store.records_dir}")
    if args.continue_from:
        reports = " ".join(map(str, args.continue_from))
        print(f"tables and plots: tradeoff-bench report {reports} {store.root} --to {args.continue_from[0]}")
    else:
        print(
            f"tables and plots: tradeoff-bench report {store.root} "
            f"(writes {store.root / 'report'}/index.html and the tables)"
        )
    print(summary.verdict())
    return EXIT_CELLS_FAILED if summary.failed_cells else EXIT_OK


def _time_run(run_dir: Path, *, progress: bool = True, max_seconds: float = 20.0) -> None:
    from tradeoff_bench.bench.latency import run_latency_phase

    latency = run_latency_phase(run_dir, progress=progress, max_seconds=max_seconds)
    print(latency.describe(), file=sys.stderr)
    for line in latency.failed:
        print(f"  latency failed: {line}", file=sys.stderr)


def _latency(args: argparse.Namespace) -> int:
    if not (args.run_dir / "cells").is_dir():
        raise StoreError(f"{args.run_dir} is not a run directory (no cells/ folder)")
    if not args.max_seconds > 0:
        raise StoreError(f"--max-seconds must be positive, got {args.max_seconds:g}")
    _time_run(args.run_dir, max_seconds=args.max_seconds)
    return EXIT_OK


def _eval(args: argparse.Namespace) -> int:
    from tradeoff_bench.bench.evaluate import evaluate_run
    from tradeoff_bench.bench.store import Store

    if args.out.resolve() == args.run_dir.resolve():
        raise StoreError("--out must be another folder than RUN: eval never touches the training run's records")
    summary = evaluate_run(
        args.run_dir, _parse_settings(args.task_set), Store(args.out), allow_overlap=args.allow_overlap
    )
    print(summary.describe())
    for record in summary.failed:
        print(f"  failed: {record.task}/{record.method} seed={record.seed}: {record.error}")
    print(f"records: {args.out / 'records'}")
    return EXIT_CELLS_FAILED if summary.failed else EXIT_OK


def _predict(args: argparse.Namespace) -> int:
    from tradeoff_bench.bench.predict import predict

    if args.out.exists() and not args.out.is_dir():
        raise StoreError(f"--out {args.out} exists and is not a folder")
    with folders_removed_on_failure(args.out):
        written = predict(args.model, args.inputs, args.out, args.task)
    print(f"wrote {len(written)} files to {args.out}")
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    from tradeoff_bench.bench.predict import export_onnx

    print(f"wrote {export_onnx(args.model, args.to)}")
    return EXIT_OK


def _plan(args: argparse.Namespace) -> tuple[list[Cell], Path]:
    """The cells to run and the output directory, every name and setting checked."""
    from tradeoff_bench.bench.grid import load_grid, peers_cell, resolve_cell, unique_cells

    methods = [name.strip() for value in args.method for name in value.split(",") if name.strip()]
    if args.grid is not None:
        if args.task or methods or args.set or args.task_set:
            hint = ""
            if not args.grid.exists() and (args.set or args.task_set):
                hint = (
                    f" ({str(args.grid)!r} looks like the end of a --set value split at a space:"
                    " quote the value, e.g. --set 'multipliers=[0.5, 1.0]')"
                )
            raise GridError(f"give either a grid file or --task/--method, not both{hint}")
        return load_grid(args.grid), args.out or Path("runs") / args.grid.stem
    if not (args.task and methods):
        raise GridError("the ad-hoc form needs both --task and --method (or give a grid file)")
    seeds = _parse_seeds(args.seeds)
    settings, task_settings = _parse_settings(args.set), _parse_settings(args.task_set)
    per_method = _settings_per_method(methods, settings)
    cells = [
        resolve_cell(args.task, task_settings, method, per_method[method], seed) for method in methods for seed in seeds
    ]
    cells = unique_cells(cells + [p for p in map(peers_cell, cells) if p is not None])
    return cells, args.out or Path("runs") / "adhoc"


def _corpus_versions(cells: list[Cell]) -> dict[str, str | None]:
    """Cell id -> the corpus version its task would run on (`Task.corpus_version`), one task built
    per distinct task configuration."""
    versions: dict[str, str | None] = {}
    for cell in cells:
        key = json.dumps([cell.task, dict(cell.task_settings)], sort_keys=True, default=str)
        if key not in versions:
            versions[key] = cell.build_task().corpus_version()
        versions[cell.cell_id] = versions[key]
    return versions


def _executor_factory(args: argparse.Namespace) -> Callable[[str | None], Executor]:
    """Check the executor flags (and that Ray is installed) before anything runs or is written; the
    factory takes the training cache's folder (None: no cache)."""
    from tradeoff_bench.bench.executors import LocalExecutor
    from tradeoff_bench.bench.plugins import loaded_plugins

    if args.jobs is not None and args.jobs < 1:
        raise ExecutorError(f"--jobs must be at least 1, got {args.jobs}")
    if args.cell_timeout is not None and not 0 < args.cell_timeout < float("inf"):
        raise ExecutorError(f"--cell-timeout must be a positive number of seconds, got {args.cell_timeout:g}")
    if args.cpus_per_cell is not None and not args.cpus_per_cell > 0:
        raise ExecutorError(f"--cpus-per-cell must be positive, got {args.cpus_per_cell:g}")
    if not args.gpus_per_cell >= 0:
        raise ExecutorError(f"--gpus-per-cell must be 0 or more, got {args.gpus_per_cell:g}")
    if args.executor == "ray":
        from tradeoff_bench.bench.ray_executor import RayExecutor, import_ray

        import_ray()
        return lambda cache_dir: RayExecutor(
            args.ray_address,
            cpus_per_cell=args.cpus_per_cell or 1,
            gpus_per_cell=args.gpus_per_cell,
            cell_timeout=args.cell_timeout,
            jobs=args.jobs,
            plugins=loaded_plugins(),
            cache_dir=cache_dir,
        )
    if args.ray_address is not None:
        raise ExecutorError("--ray-address needs --executor ray")
    if args.cpus_per_cell is not None and args.cpus_per_cell != int(args.cpus_per_cell):
        raise ExecutorError(f"--cpus-per-cell must be whole with the local executor, got {args.cpus_per_cell:g}")
    device = "cpu"
    if args.gpus_per_cell > 0:
        import torch

        if not torch.cuda.is_available():
            raise ExecutorError("--gpus-per-cell needs a CUDA device, and torch sees none")
        device = "cuda"
    threads = int(args.cpus_per_cell or 1)
    return lambda cache_dir: LocalExecutor(
        args.jobs or 1,
        device,
        threads=threads,
        cell_timeout=args.cell_timeout,
        plugins=loaded_plugins(),
        cache_dir=cache_dir,
    )


def _report(args: argparse.Namespace) -> int:
    from tradeoff_bench.bench.report import write_report
    from tradeoff_bench.bench.report.bundle import bundles_under

    if args.to is None and len(args.runs) > 1:
        raise StoreError("several run directories need --to: where their joint report goes")
    if args.to is None and not (args.runs[0] / "cells").is_dir() and bundles_under(args.runs[0]):
        raise StoreError(f"{args.runs[0]} is a published board: say with --to where its report goes")
    out = args.to if args.to is not None else args.runs[0] / "report"
    if out.exists() and not out.is_dir():
        raise StoreError(f"--to {out} exists and is not a folder")
    from tradeoff_bench.bench.report.axes import cost_axis

    try:
        axis = cost_axis(args.cost).name
    except KeyError as err:
        raise StoreError(f"--cost: {err.args[0]}") from None
    targets = _parse_targets(args.target)
    records, run_dirs, published = _read_runs(args.runs)
    tex = {"tex_budgets": args.tex_budgets} if args.tex_budgets else {}
    written = write_report(records, out, run_dirs=run_dirs, cost=axis, targets=targets, published=published, **tex)
    _warn_mixed_code(records)
    print(f"wrote {len(written)} files to {out}: open {out / 'index.html'}")
    return EXIT_OK


def _budget_list(text: str) -> tuple[float, ...]:
    """`0.25,0.5` -> (0.25, 0.5); each a fraction in (0, 1]."""
    try:
        budgets = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated fractions such as 0.25,0.5, got {text!r}") from None
    if not all(0 < b <= 1 for b in budgets):
        raise argparse.ArgumentTypeError(f"budgets are fractions of the full model's cost in (0, 1], got {text!r}")
    return budgets


def _parse_targets(texts: list[str]) -> dict[str, Any]:
    """`[TASK=]TOLERANCE` options -> {task or "*": QualityTarget}."""
    from tradeoff_bench.tasks.targets import QualityTarget

    targets = {}
    for text in texts:
        task, sep, value = text.rpartition("=")
        try:
            targets[task if sep else "*"] = QualityTarget.parse(value)
        except ValueError as err:
            raise GridError(f"--target: {err}") from None
    return targets


def _curves(args: argparse.Namespace) -> int:
    from tradeoff_bench.bench.report.curves import curve_markdown, curve_table

    table = curve_table(_read_runs(args.runs)[0])
    if table.empty:
        raise StoreError(f"no record in {', '.join(map(str, args.runs))} has a training history")
    if args.csv is not None:
        atomic_write(args.csv, table.to_csv(index=False, lineterminator="\n"))
    print(curve_markdown(table), end="")
    return EXIT_OK


def _read_runs(runs: Sequence[Path]) -> tuple[list[Any], dict[str, Path], Any]:
    """Every finished cell's records of `runs`, the run directory of each record id, and the bootstrap
    replicates of the records read from published boards (a task folder of `results/`)."""
    from tradeoff_bench.bench.latency import attach_latency
    from tradeoff_bench.bench.report.bootstrap import Replicates
    from tradeoff_bench.bench.report.bundle import bundles_under, read_bundle
    from tradeoff_bench.bench.store import Store

    records, run_dirs, published = [], {}, Replicates()
    for run_dir in runs:
        if not run_dir.exists():
            raise StoreError(f"{run_dir} does not exist")
        boards = [] if (run_dir / "cells").is_dir() else bundles_under(run_dir)
        for board in boards:  # a published task folder, or a whole published report
            found, replicates = read_bundle(board)
            records += found
            published.values.update(replicates.values)
            published.notes.update(replicates.notes)
        if boards:
            continue
        if not (run_dir / "cells").is_dir():
            raise StoreError(
                f"{run_dir} is neither a run directory (no cells/ folder: run `tradeoff-bench run` first) "
                "nor a published board (no records.jsonl.gz in it or in its task folders)"
            )
        found = attach_latency(Store(run_dir).records(), run_dir)
        run_dirs.update({record.record_id: run_dir for record in found})
        records += found
    if not records:
        raise StoreError(f"no finished cells in {', '.join(map(str, runs))}")
    return records, run_dirs, published


def _warn_mixed_code(records: list[Any]) -> None:
    """One stderr line per table whose records come from more than one version of the code."""
    from tradeoff_bench.bench.provenance import code_versions
    from tradeoff_bench.bench.report.frame import board_corpus

    boards: dict[tuple[str, str], list[tuple[dict[str, Any], str]]] = {}
    for record in records:
        boards.setdefault((record.task, board_corpus(record)), []).append((record.provenance, record.record_id))
    for (task, corpus), items in sorted(boards.items()):
        found = code_versions(items)
        if len(found) > 1:
            print(
                f"warning: the {task} table ({corpus}) mixes records of {len(found)} code versions "
                f"({', '.join(sorted(found))}); its leaderboard lists which cells come from which",
                file=sys.stderr,
            )


def _parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise GridError(f"--seeds must be comma-separated integers, got {text!r}") from None
    if not seeds:
        raise GridError("--seeds is empty")
    if min(seeds) < 0:
        raise GridError(f"seeds must be 0 or more, got {min(seeds)}")
    return seeds


def _candidate_lines(records: list[Any]) -> list[str]:
    """One line per candidate made: where it stands in cost and quality (the report has the rest)."""
    lines = []
    for r in sorted(records, key=lambda r: (r.task, r.method, r.seed, r.label)):
        cost = f"{r.macs / r.full_macs:.3f} of the full MACs" if r.macs and r.full_macs else "MACs n/a"
        metric = r.metrics.get(r.primary_metric)
        quality = f"{r.primary_metric} {metric:.4g}" if metric is not None else ""
        lines.append(f"  {r.task}/{r.method} seed={r.seed} {r.label}: {cost}, {quality}".rstrip(", "))
    return lines


def _settings_per_method(methods: list[str], settings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`--set` for each of several methods: a key goes to every named method that has that setting;
    one that none of them has is an error (with one method, the method's own check says so)."""
    from tradeoff_bench.core.registry import setting_names
    from tradeoff_bench.methods import METHODS

    if len(methods) == 1:
        return {methods[0]: settings}
    names = {method: setting_names(METHODS.get(method)) for method in methods}
    for key in settings:
        if not any(key in known for known in names.values()):
            raise GridError(f"--set {key}: none of the methods {', '.join(methods)} has a setting {key!r}")
    return {method: {k: v for k, v in settings.items() if k in names[method]} for method in methods}


def _parse_settings(pairs: list[str]) -> dict[str, Any]:
    """KEY=VALUE pairs; values are TOML literals (0.1, true, [0.5, 1.0]) or bare strings."""
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise GridError(f"setting {pair!r} is not KEY=VALUE")
        try:
            settings[key.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            settings[key.strip()] = value
    return settings


if __name__ == "__main__":
    sys.exit(main())
