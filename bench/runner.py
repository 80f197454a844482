"""Run one cell end to end: build task and method, train, measure every candidate, make records.

`execute_cell` is a pure function of the cell (no file I/O), so any executor (in-process, a
process pool, a Ray worker) can run it and hand the records back to the driver that stores them.
Its figures depend only on the cell and on the number of intra-op threads it is given: CPU
kernels may sum in a different order with a different thread count, so executors pass the same
`threads` for the same cores per cell, and a cell then gives the same records bit for bit. The one
file I/O a cell may do is through the training cache (`cache_dir`, `bench.cache`), which holds
trained phases only, never records: with it a cell's records are the same as without it, but for
`facts["reused"]` and the wall time (`cell_seconds`).
"""

from __future__ import annotations

import logging
import random
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from tradeoff_bench.bench.grid import Cell
from tradeoff_bench.bench.history import TRAIN_CSV, history_csv
from tradeoff_bench.bench.provenance import provenance
from tradeoff_bench.core.records import Record
from tradeoff_bench.methods import Candidate, RunContext
from tradeoff_bench.tasks import Task

TRAINING_LOG = logging.getLogger("tradeoff_bench.training")
"""Where methods' progress lines (`RunContext.log`: one per epoch) go; silent unless `show_training_log`."""


def show_training_log() -> None:
    """Print training progress lines on stderr (`run -v`; worker processes call it too)."""
    if not TRAINING_LOG.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        TRAINING_LOG.addHandler(handler)
    TRAINING_LOG.setLevel(logging.INFO)


def training_logger(cell: Cell) -> Callable[[str], None]:
    """`RunContext.log` for `cell`: its lines name the cell."""
    prefix = f"[{cell.task}/{cell.method} seed={cell.seed} {cell.cell_id[:8]}]"
    return lambda message: TRAINING_LOG.info("%s %s", prefix, message)


def seed_everything(seed: int) -> None:
    """Seed every global generator a method may draw from (data order uses explicit generators)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def warm_up() -> None:
    """Import what a first cell would import lazily: the measurement stack, and torch's compiler
    stack, which every optimiser pulls in on first use (seconds). A worker calls this before it
    takes cells, so a cell's time limit measures the cell, not the worker's start-up."""
    import torch._dynamo  # noqa: F401

    import tradeoff_bench.bench.measure
    import tradeoff_bench.core.flops  # noqa: F401


def execute_cell(
    cell: Cell, device: str = "cpu", threads: int | None = None, cache_dir: str | Path | None = None
) -> list[Record]:
    """Records of every candidate of `cell`, or one failed record saying why it failed.

    `threads` sets torch's intra-op threads for the cell (restored afterwards); None keeps them.
    `cache_dir` is the training cache's folder (`bench.cache`), shared by the cells of a run (and
    by every worker: on Ray a shared file system); None trains every phase here.
    """
    if threads is None:
        return _execute(cell, device, cache_dir)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _execute(cell, device, cache_dir)
    finally:
        torch.set_num_threads(previous)


def _execute(cell: Cell, device: str, cache_dir: str | Path | None = None) -> list[Record]:
    from tradeoff_bench.core.flops import count_macs

    task: Task | None = None
    started = time.perf_counter()
    try:
        task = cell.build_task()
        if cell.is_peers:
            return _peer_records(cell, task, device)
        method = cell.build_method()
        task.prepare()
        method.check(task)
        seed_everything(cell.seed)
        log = training_logger(cell)
        cache = None
        if cache_dir is not None:
            from tradeoff_bench.bench.cache import TrainingCache

            cache = TrainingCache(
                cache_dir,
                task=cell.task,
                task_settings=cell.task_settings,
                corpus=task.corpus,
                plugins=cell.plugin_code,
                origin=f"{cell.method}/{cell.cell_id}",
                device=device,
                log=log,
            )
        ctx = RunContext(seed=cell.seed, count_macs=count_macs, device=device, log=log, cache=cache)
        run_started = time.perf_counter()
        candidates = method.run(task, ctx)
        cell_seconds = time.perf_counter() - run_started
        _check_candidates(candidates)
        from tradeoff_bench.bench.measure import full_costs

        full = full_costs(task)
        return [_measured(cell, task, c, full, cell_seconds, device) for c in candidates]
    except Exception as err:  # a failing cell is a record, and the grid goes on
        return [failure_record(cell, err, task=task, seconds=time.perf_counter() - started, device=device)]


def _peer_records(cell: Cell, task: Task, device: str) -> list[Record]:
    """One record per reference system of the task, with the figures the task could establish."""
    from tradeoff_bench.core.flops import count_macs

    task.prepare()
    full_macs = count_macs(task.build_model(), task.example_input())
    return [
        Record(
            **_identity(cell, task),
            label=peer.label,
            status="ok",
            macs=peer.macs,
            full_macs=full_macs,
            params=peer.params,
            metrics=dict(peer.metrics),
            reference_metric=task.reference_metric,
            facts={"origin": peer.origin, "macs_source": peer.macs_source, "note": peer.note},
            provenance=provenance(device, _plugins_of(cell)),
        )
        for peer in task.peers()
    ]


def _check_candidates(candidates: list[Candidate]) -> None:
    if not candidates:
        raise RuntimeError("the method returned no candidates")
    labels = [c.label for c in candidates]
    if len(set(labels)) != len(labels):
        raise RuntimeError(f"candidate labels are not unique: {labels}")


def _measured(
    cell: Cell, task: Task, candidate: Candidate, full: dict[str, int], cell_seconds: float, device: str
) -> Record:
    from tradeoff_bench.bench.artifacts import ModelSpec, save_model
    from tradeoff_bench.bench.measure import measure_model

    figures = measure_model(candidate.model, task, cost_model=candidate.cost_model)
    record = Record(
        **_identity(cell, task),
        label=candidate.label,
        status="ok",
        macs=figures.macs,
        full_macs=full["macs"],
        params=figures.params,
        bytes=figures.bytes,
        bops=figures.bops,
        weight_bytes=figures.weight_bytes,
        peak_activation_bytes=figures.peak_activation_bytes,
        full_costs=dict(full),
        metrics=figures.metrics,
        operating_point=figures.operating_point,
        reference_metric=task.reference_metric,
        train_seconds=candidate.train_seconds,
        train_epochs=candidate.train_epochs,
        cell_seconds=cell_seconds,
        widths=dict(candidate.widths),
        facts=dict(candidate.facts),
        provenance=provenance(device, _plugins_of(cell)),
        attachments={**_history_attachment(candidate), **figures.outputs},
    )
    record.weights = save_model(candidate.model, ModelSpec.of(record))
    return record


def _plugins_of(cell: Cell) -> dict[str, str]:
    """The plugin code behind `cell` (`Cell.plugin_code`); none where its names do not resolve (a
    failure record must not fail on the error it reports)."""
    try:
        return cell.plugin_code
    except Exception:
        return {}


def _history_attachment(candidate: Candidate) -> dict[str, str]:
    """`train.csv` from the candidate's per-epoch history, when it has one (a task output of that name wins)."""
    history = candidate.facts.get("history")
    return {TRAIN_CSV: history_csv(history)} if history else {}


def failure_record(
    cell: Cell, err: BaseException, *, task: Task | None = None, seconds: float = 0.0, device: str = "cpu"
) -> Record:
    """The record of a cell that failed: its error with the place it was raised."""
    where = traceback.extract_tb(err.__traceback__)[-1] if err.__traceback__ else None
    location = f" (at {where.filename.rsplit('/', 1)[-1]}:{where.lineno})" if where else ""
    return Record(
        **_identity(cell, task),
        label="failed",
        status="failed",
        error=f"{type(err).__name__}: {err}{location}",
        cell_seconds=seconds,
        provenance=provenance(device, _plugins_of(cell)),
    )


def timeout_record(cell: Cell, limit: float) -> Record:
    """The record of a cell stopped at its wall-clock limit."""
    return failure_record(cell, TimeoutError(f"cell exceeded {limit:g} s"), seconds=limit)


def _identity(cell: Cell, task: Task | None) -> dict:
    corpus, notes, version = _corpus_of(task)
    return {
        "cell_id": cell.cell_id,
        "task": cell.task,
        "corpus": corpus,
        "corpus_notes": notes,
        "corpus_version": version,
        "method": cell.method,
        "seed": cell.seed,
        "settings": dict(cell.method_settings),
        "task_settings": dict(cell.task_settings),
        "cost_unit": task.cost_unit if task is not None else "",
        "primary_metric": task.primary_metric if task is not None else "",
        "higher_is_better": task.higher_is_better if task is not None else False,
        "quality_target": task.quality_target.to_dict() if task is not None else {},
    }


def _corpus_of(task: Task | None) -> tuple[str, list[str], str | None]:
    """The task's corpus name, notes and version; empty where there is no task or its data cannot be
    read (a failure record must not fail on the error it reports)."""
    if task is None:
        return "", [], None
    try:
        return task.corpus, task.corpus_notes(), task.corpus_version()
    except Exception:
        return "", [], None
