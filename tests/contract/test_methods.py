"""Every registered method must return physically realised, measurable candidates on every task."""

import json
from pathlib import Path

import pytest
import torch

from bench.artifacts import ModelSpec, load_model, save_model
from bench.flops import count_macs
from bench.measure import measure_metrics
from bench.grid import resolve_cell
from bench.runner import execute_cell
from methods import METHODS, Candidate, RunContext
from tasks import TASKS, Task
from tasks.registry import configure

PAIRS = [
    pytest.param(method, task, variant, id=f"{method}-{task}-{i}")
    for method in METHODS.names()
    for task in TASKS.names()
    for i, variant in enumerate(TASKS.get(task).tiny_variants)
]


@pytest.mark.parametrize(("method", "task", "variant"), PAIRS)
def test_method_returns_realised_candidates(method: str, task: str, variant: dict, tmp_path: Path) -> None:
    task_obj = configure(TASKS.get(task), variant, task)
    method_obj = configure(METHODS.get(method), METHODS.get(method).tiny_settings, method)
    method_obj.check(task_obj)
    torch.manual_seed(0)
    candidates = method_obj.run(task_obj, RunContext(seed=0, count_macs=count_macs))
    assert candidates
    assert len({c.label for c in candidates}) == len(candidates)
    full = task_obj.build_model().eval()
    x = task_obj.example_input()
    with torch.no_grad():
        expected_shape = full(x).shape
        for candidate in candidates:
            assert not candidate.model.training
            assert candidate.model(x).shape == expected_shape
            json.dumps(candidate.facts)
            assert candidate.train_epochs > 0
            if candidate.widths:
                task_obj.resolve_widths(candidate.widths)  # valid knob names and ranges
    for candidate in candidates:
        assert_reloads_exactly(candidate, task_obj, method, method_obj.settings(), tmp_path)


def assert_reloads_exactly(candidate: Candidate, task: Task, method: str, settings: dict, folder: Path) -> None:
    """A candidate saved and loaded back (`bench.artifacts`) gives the same metrics, bit for bit."""
    metrics, _ = measure_metrics(candidate.model, task)
    spec = ModelSpec(candidate.label, task.name, task.settings(), method, settings, candidate.widths,
                     candidate.facts)
    saved = save_model(candidate.model, spec)
    path = folder / f"{candidate.label}{saved.suffix}"
    path.write_bytes(saved.data)
    loaded = load_model(path)
    assert loaded.spec == spec
    assert measure_metrics(loaded.model, loaded.task)[0] == metrics, candidate.label


@pytest.mark.parametrize("method", METHODS.names())
def test_method_cell_produces_ok_records(method: str) -> None:
    task = TASKS.names()[0]
    cell = resolve_cell(task, TASKS.get(task).tiny_variants[0], method, METHODS.get(method).tiny_settings, 0)
    records = execute_cell(cell)
    assert all(r.status == "ok" for r in records), [r.error for r in records]
    assert all(r.macs and r.params and r.bytes and r.latency_ms and r.full_macs for r in records)
    assert all(r.macs <= r.full_macs for r in records)
