"""Every registered method must return physically realised, measurable candidates on every task."""

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from tests.contract.variants import task_variants
from tradeoff_bench.bench.artifacts import ModelSpec, load_model, save_model
from tradeoff_bench.bench.grid import resolve_cell
from tradeoff_bench.bench.measure import measure_metrics
from tradeoff_bench.bench.runner import execute_cell
from tradeoff_bench.core.flops import count_macs
from tradeoff_bench.core.registry import configure
from tradeoff_bench.methods import METHODS, Candidate, RunContext
from tradeoff_bench.tasks import TASKS, Task

USER_VARIANTS = [v for task in TASKS.names() for _, v in task_variants(task) if ":" in str(v.get("model"))]
PAIRS = [
    pytest.param(method, task, variant, id=f"{method}-{ident}")
    for method in METHODS.names()
    for task in TASKS.names()
    for ident, variant in task_variants(task)
]


class _GatedBuilds:
    """Spies `task.build_model`: the models built with a gate, with a copy of their initial parameters."""

    def __init__(self, task: Task, monkeypatch: pytest.MonkeyPatch) -> None:
        self.models: list[tuple[nn.Module, list[tuple[torch.Tensor, torch.Tensor]]]] = []
        build = task.build_model

        def spy(widths: dict | None = None, gate: object = None) -> nn.Module:
            model = build(widths, gate)  # type: ignore[arg-type]
            if gate is not None:
                self.models.append((model, [(p, p.detach().clone()) for p in model.parameters()]))
            return model

        monkeypatch.setattr(task, "build_model", spy)

    def trained(self, candidates: list) -> list[nn.Module]:
        """Gated models whose own parameters changed in place since they were built (were trained),
        candidates aside."""
        outputs = [c.model for c in candidates]
        return [
            model for model, initial in self.models
            if all(model is not o for o in outputs)
            and any(not torch.equal(p.detach(), q) for p, q in initial)
        ]  # fmt: skip


@pytest.mark.parametrize(("method", "task", "variant"), PAIRS)
def test_method_returns_realised_candidates(
    method: str, task: str, variant: dict, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    task_obj = configure(TASKS.get(task), variant, task)
    method_obj = configure(METHODS.get(method), METHODS.get(method).tiny_settings, method)
    if variant in USER_VARIANTS:  # a user's model may not suit a method: it refuses up front
        try:
            method_obj.check(task_obj)
        except ValueError as err:
            assert "\n" not in str(err) and len(str(err)) < 300, "a refusal is one line that says why"
            return
    method_obj.check(task_obj)
    gated = _GatedBuilds(task_obj, monkeypatch)
    torch.manual_seed(0)
    candidates = method_obj.run(task_obj, RunContext(seed=0, count_macs=count_macs))
    assert candidates
    _check_candidates_compute_their_trained_gated_model(candidates, gated.trained(candidates), task_obj)
    assert len({c.label for c in candidates}) == len(candidates)
    full = task_obj.build_model().eval()
    x = task_obj.example_input()
    with torch.no_grad():
        expected_shape = full(x).shape
        for candidate in candidates:
            assert not candidate.model.training
            assert candidate.model(x).shape == expected_shape
            json.dumps(candidate.facts)
            history = candidate.facts["history"]  # per epoch, readable without re-running
            assert history and all({"epoch", "loss", "selected"} <= set(entry) for entry in history)
            assert isinstance(candidate.facts["selected_epoch"], int) and isinstance(candidate.facts["converged"], bool)
            if "widths" in history[-1]:  # widths moved while it trained: the epoch kept is at the candidate's
                kept = [entry for entry in history if entry["selected"]][-1]
                assert kept["widths"] == candidate.widths and kept["epoch"] == candidate.facts["selected_epoch"]
            assert candidate.train_epochs > 0
            if candidate.widths:
                task_obj.resolve_widths(candidate.widths)  # valid knob names and ranges
    for candidate in candidates:
        assert_reloads_exactly(candidate, task_obj, method, method_obj.settings(), tmp_path)


def assert_reloads_exactly(candidate: Candidate, task: Task, method: str, settings: dict, folder: Path) -> None:
    """A candidate saved and loaded back (`bench.artifacts`) gives the same metrics, bit for bit."""
    metrics, _ = measure_metrics(candidate.model, task)
    spec = ModelSpec(candidate.label, task.name, task.settings(), method, settings, candidate.widths, candidate.facts)
    saved = save_model(candidate.model, spec)
    path = folder / f"{candidate.label}{saved.suffix}"
    path.write_bytes(saved.data)
    loaded = load_model(path)
    assert loaded.spec == spec
    assert measure_metrics(loaded.model, loaded.task)[0] == metrics, candidate.label


def _check_candidates_compute_their_trained_gated_model(candidates: list, trained: list, task: Task) -> None:
    """A method that trained a gated or masked model and extracted its candidates from it must hand
    that model over (`Candidate.trained`) and compute what it computes in eval mode, unless it
    fine-tuned after extraction and says so (`facts["finetune_epochs"] > 0`)."""
    x = task.example_input()
    for candidate in candidates:
        if candidate.facts.get("finetune_epochs", 0) > 0:
            continue
        if trained:
            assert candidate.trained is not None, f"{candidate.label}: trained a gated model but handed none over"
            assert any(candidate.trained is model for model in trained)
        if candidate.trained is not None:
            with torch.no_grad():
                delta = (candidate.model(x) - candidate.trained.eval()(x)).abs().max().item()
            assert delta <= 1e-5, f"{candidate.label}: extracted model differs from the trained one by {delta:.3g}"


@pytest.mark.parametrize("method", METHODS.names())
def test_method_cell_produces_ok_records(method: str) -> None:
    task = TASKS.names()[0]
    cell = resolve_cell(task, TASKS.get(task).tiny_variants[0], method, METHODS.get(method).tiny_settings, 0)
    records = execute_cell(cell)
    assert all(r.status == "ok" for r in records), [r.error for r in records]
    assert all(r.macs and r.params and r.bytes and r.bops and r.weight_bytes and r.full_macs for r in records)
    assert all(r.peak_activation_bytes and r.full_costs["macs"] == r.full_macs for r in records)
    assert all(r.bops <= r.macs * 1024 and r.weight_bytes <= 4 * r.full_costs["weight_bytes"] for r in records)
    assert all(r.macs <= r.full_macs for r in records)
