"""`tradeoff-bench eval`: re-score the saved candidates of a run on other data, without training.

Each training cell whose candidates were saved becomes one eval cell: the same task, method and
seed, the task's settings with the overrides applied, and `source` = the training cell's id (so
its id never collides with a training cell's). Its records are the training records with the
task's metrics and outputs measured again, on CPU with one torch thread as cells run by default;
the costs (MACs, parameters, bytes, latency) depend on the model alone and are kept. Each names
the record it re-scored (`source_record`), the training corpus and settings; `corpus` is the data
it was evaluated on. Eval cells are stored like training cells, so an interrupted `eval` resumes.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any

from tradeoff_bench.bench.errors import StoreError
from tradeoff_bench.bench.grid import Cell
from tradeoff_bench.bench.store import Store
from tradeoff_bench.core import records as schema
from tradeoff_bench.core.records import Record


@dataclass
class EvalSummary:
    cells: int = 0
    finished_before: int = 0
    records: int = 0
    failed: list[Record] = dataclasses.field(default_factory=list)

    def describe(self) -> str:
        earlier = f" ({self.finished_before} finished earlier)" if self.finished_before else ""
        return f"re-scored {self.records} saved candidates of {self.cells} cells{earlier}."


def saved_candidates(run_dir: Path) -> list[Record]:
    """The `ok` records of a run that have a saved model; StoreError when there are none."""
    if not run_dir.exists():
        raise StoreError(f"{run_dir} does not exist")
    if not (run_dir / "cells").is_dir():
        raise StoreError(f"{run_dir} is not a run directory (no cells/ folder): run `tradeoff-bench run` first")
    records = [r for r in Store(run_dir).records() if r.status == "ok" and r.model_file and r.source_record is None]
    if not records:
        raise StoreError(f"{run_dir} holds no saved models (run without --no-save-models to keep them)")
    return records


def eval_cell(source: Record, overrides: Mapping[str, Any]) -> Cell:
    """The eval cell of `source`'s training cell, its task settings resolved with `overrides`."""
    from tradeoff_bench.bench.grid import resolve_cell

    trained = resolve_cell(
        source.task, {**source.task_settings, **overrides}, source.method, source.settings, source.seed
    )
    return dataclasses.replace(trained, source=source.cell_id)


class DataOverlapError(StoreError):
    """The evaluation data share speakers or recordings with the training data, or change the task."""


def evaluate_run(
    run_dir: Path, overrides: Mapping[str, Any], out: Store, *, allow_overlap: bool = False
) -> EvalSummary:
    """Re-score every saved candidate of `run_dir` with `overrides`, writing records to `out`.

    Evaluation data that share speakers or recordings with a model's training data (its train and
    dev splits), or that change what the task is (synthetic's teacher), are refused before anything
    is written, naming the overlap; with `allow_overlap` they are evaluated, with a warning and the
    overlap kept in each record's `facts["data_overlap"]`."""
    sources = saved_candidates(run_dir)
    cells = [
        (eval_cell(group[0], overrides), group)
        for group in (list(g) for _, g in groupby(sources, key=lambda r: r.cell_id))
    ]
    overlaps = data_overlaps(cells)
    if overlaps and not allow_overlap:
        first = next(iter(overlaps.values()))
        raise DataOverlapError(
            f"the evaluation data overlap the training data: {'; '.join(first)} (--allow-overlap evaluates anyway)"
        )
    for words in {"; ".join(found) for found in overlaps.values()}:
        print(f"warning: the evaluation data overlap the training data: {words}", file=sys.stderr)
    summary = EvalSummary(cells=len(cells))
    out.open()
    for cell, group in cells:
        if out.is_finished(cell) or not out.try_lock(cell):
            summary.finished_before += 1
            continue
        try:
            out.begin(cell)
            print(f"{cell.title}: {len(group)} candidates", file=sys.stderr)
            records = rescore(cell, group, run_dir)
            if cell.cell_id in overlaps:
                for record in records:
                    record.facts = {**record.facts, "data_overlap": overlaps[cell.cell_id]}
            try:
                out.finish(cell, records)
            except BaseException:  # a full disk: no half-written cell stays behind
                out.discard(cell)
                raise
        finally:
            out.unlock(cell)
        summary.records += sum(r.status == "ok" for r in records)
        summary.failed += [r for r in records if r.status != "ok"]
    return summary


def data_overlaps(cells: list[tuple[Cell, list[Record]]]) -> dict[str, list[str]]:
    """Per eval cell, how its test data overlap its models' training data (train and dev splits)."""
    found: dict[str, list[str]] = {}
    seen: dict[str, list[str]] = {}
    for cell, group in cells:
        trained = resolve_training_cell(group[0])
        key = json.dumps([trained.task, trained.task_settings, cell.task_settings], sort_keys=True, default=str)
        if key not in seen:
            seen[key] = _overlap(trained, cell)
        if seen[key]:
            found[cell.cell_id] = seen[key]
    return found


def resolve_training_cell(source: Record) -> Cell:
    from tradeoff_bench.bench.grid import resolve_cell

    return resolve_cell(source.task, source.task_settings, source.method, source.settings, source.seed)


def _overlap(trained: Cell, evaluated: Cell) -> list[str]:
    training_task, eval_task = trained.build_task(), evaluated.build_task()
    test = eval_task.data_identity("test")
    train, dev = training_task.data_identity("train"), training_task.data_identity("val")
    if test is None or train is None or dev is None:
        return []
    return test.conflicts(train.union(dev))


def rescore(cell: Cell, sources: list[Record], run_dir: Path, threads: int = 1) -> list[Record]:
    """Records of `sources` (one training cell's) measured again on `cell`'s task; one failed
    record for the cell when anything fails."""
    import torch

    from tradeoff_bench.bench.artifacts import load_model
    from tradeoff_bench.bench.measure import measure_metrics, operating_point
    from tradeoff_bench.bench.provenance import provenance
    from tradeoff_bench.bench.runner import failure_record

    task = None
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        task = cell.build_task()
        task.prepare()
        records = []
        for source in sources:
            assert source.model_file is not None
            loaded = load_model(run_dir / source.model_file, task=task)
            metrics, outputs = measure_metrics(loaded.model, task)
            records.append(
                dataclasses.replace(
                    source,
                    cell_id=cell.cell_id,
                    corpus=task.corpus,
                    corpus_notes=task.corpus_notes(),
                    corpus_version=task.corpus_version(),
                    task_settings=dict(cell.task_settings),
                    metrics=metrics,
                    operating_point=operating_point(loaded.model, task),
                    reference_metric=task.reference_metric,
                    outputs=[],
                    model_file=None,
                    source_record=source.record_id,
                    train_corpus=source.corpus,
                    train_task_settings=dict(source.task_settings),
                    provenance=provenance("cpu"),
                    attachments=outputs,
                    weights=None,
                    schema_version=schema.SCHEMA_VERSION,  # written now, by this suite
                )
            )
        return records
    except Exception as err:  # a cell that cannot be re-scored is a record, and the others go on
        return [failure_record(cell, err, task=task)]
    finally:
        torch.set_num_threads(previous)
