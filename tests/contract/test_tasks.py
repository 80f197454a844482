"""Every registered task (in each of its tiny variants) must honour the Task contract."""

import io
import math

import numpy as np
import pytest
import torch
from torch import nn

from tests.contract.variants import task_variants
from tradeoff_bench.core.flops import count_macs
from tradeoff_bench.core.registry import configure
from tradeoff_bench.tasks import TASKS, Task, metric_spec
from tradeoff_bench.tasks.metrics import ItemScores

VARIANTS = [pytest.param(name, variant, id=ident) for name in TASKS.names() for ident, variant in task_variants(name)]


def make(name: str, variant: dict) -> Task:
    task = configure(TASKS.get(name), variant, f"task {name!r}")
    task.prepare()
    return task


@pytest.mark.parametrize(("name", "variant"), VARIANTS)
def test_task_builds_trains_a_step_and_evaluates(name: str, variant: dict) -> None:
    task = make(name, variant)
    assert task.corpus and task.name == name
    metric_spec(task.primary_metric)  # registered, with a direction
    model = task.build_model()
    x, y = next(task.batches("train", 4, shuffle=True, seed=0))
    loss = task.loss(model(x), y)
    assert torch.isfinite(loss)
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    metrics = task.evaluate(model, "test")
    assert math.isfinite(metrics[task.primary_metric])
    assert math.isfinite(task.reference_metric)
    assert model.eval()(task.example_input()).shape[0] == 1


@pytest.mark.parametrize(("name", "variant"), VARIANTS)
def test_knobs_shrink_the_model_and_keep_parameter_names(name: str, variant: dict) -> None:
    task = make(name, variant)
    assert task.knobs, "a task needs at least one width knob"
    full = task.build_model()
    full_macs = count_macs(full, task.example_input())
    for knob in task.knobs:
        narrow = task.build_model({knob: 1})
        assert [n for n, _ in narrow.named_parameters()] == [n for n, _ in full.named_parameters()]
        assert count_macs(narrow, task.example_input()) < full_macs
        assert sum(p.numel() for p in narrow.parameters()) < sum(p.numel() for p in full.parameters())


@pytest.mark.parametrize(("name", "variant"), VARIANTS)
def test_every_knob_has_a_gate_site_that_sees_its_channels(name: str, variant: dict) -> None:
    task = make(name, variant)
    widths = {knob: max(1, full // 2) for knob, full in task.knobs.items()}
    seen: dict[str, list[int]] = {}

    class Probe(nn.Module):
        def __init__(self, knob: str, width: int, dim: int) -> None:
            super().__init__()
            self.knob, self.width, self.dim = knob, width, dim

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.setdefault(self.knob, []).append(x.shape[self.dim])
            return x

    gated = task.build_model(widths, gate=Probe).eval()
    plain = task.build_model(widths).eval()
    plain.load_state_dict(gated.state_dict())
    x = task.example_input()
    with torch.no_grad():
        assert torch.equal(gated(x), plain(x))
    assert set(seen) == set(task.knobs)
    for knob, sizes in seen.items():
        assert set(sizes) == {widths[knob]}, f"gate of {knob} saw channel sizes {sizes}"


@pytest.mark.parametrize(("name", "variant"), VARIANTS)
def test_outputs_are_named_files(name: str, variant: dict) -> None:
    task = make(name, variant)
    outputs = task.outputs(task.build_model().eval())
    assert all(
        isinstance(content, (str, bytes)) and file_name and "/" not in file_name
        for file_name, content in outputs.items()
    )


@pytest.mark.parametrize(("name", "variant"), VARIANTS)
def test_item_scores_give_the_evaluated_metric_and_are_kept(name: str, variant: dict) -> None:
    task = make(name, variant)
    torch.manual_seed(0)
    model = task.build_model().eval()
    reported = task.evaluate(model, "test")[task.primary_metric]
    scores = task.item_scores(model, "test")
    assert scores is not None, f"task {name!r} keeps no per-item scores"
    assert scores.metric(task.primary_metric) == pytest.approx(reported, abs=1e-6)
    assert scores.item.min() == 0 and np.array_equal(np.unique(scores.item), np.arange(scores.item.max() + 1))
    kept = ItemScores.load(io.BytesIO(task.outputs(model)[ItemScores.FILE]))
    for column in ("item", "label", "score"):
        assert np.array_equal(getattr(kept, column), getattr(scores, column), equal_nan=True)
    # a changed model is scored again, not served from the last one's outputs
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(-1.5)
    assert not np.array_equal(task.item_scores(model, "test").score, scores.score)


@pytest.mark.parametrize(("name", "variant"), VARIANTS)
def test_dev_scores_are_the_val_metric_and_the_loss_over_the_whole_split(name: str, variant: dict) -> None:
    task = make(name, variant)
    torch.manual_seed(0)
    model = task.build_model().eval()
    metric, loss = task.dev_scores(model)
    assert metric == task.evaluate(model, "val")[task.primary_metric]
    xs, ys = zip(*task.batches("val", 8))
    with torch.no_grad():
        whole = task.loss(torch.cat([model(x) for x in xs]), torch.cat(ys)).item()
    assert loss == pytest.approx(whole, rel=1e-5)
