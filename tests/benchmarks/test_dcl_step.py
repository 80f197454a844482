"""What a DCL costs per training step: one DCL step against a dense step of the same model.

Run: python -m pytest tests/benchmarks/test_dcl_step.py --benchmark-only -p no:cacheprovider -o addopts=""
The DCL step is the method's own: forward with a DCL at every knob, task loss plus the
differentiable MAC penalty, backward, Adam step, κ projection. One thread, batch 32, ratio (of
medians over interleaved rounds) in `extra_info`. The families:
- every model family the registered tasks offer, at the task's default sizes (vad's CRNN and
  Transformer, asvspoof2019's ResNet and LCNN, synthetic's MLP and conv), each held to ≤ 1.10×
  where its dense step is long enough for a ratio to mean something;
- a conv+GRU of ≥ 100 k parameters over 1 s of 10 ms frames, the speech case the ≤ 1.10× target
  was set for (the prototype's naive layer cost 1.14× on such a model);
- a 3-layer MLP of ≥ 100 k parameters with a DCL at each hidden knob.
The MLPs are recorded but not held to the target: their dense step is well under a millisecond,
so the gates' fixed cost (about twenty small tensor ops per gate and step, plus the penalty's
polynomial and Adam on each κ) shows as a large ratio although it is the same absolute time.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import torch
from pytest_benchmark.fixture import BenchmarkFixture
from torch import nn

from tests.shape_only import Recurrent, ShapeOnlyTask
from tradeoff_bench.core.flops import count_macs
from tradeoff_bench.methods.dcl import DCL, DCLGates, DCLObjective, fit_complexity
from tradeoff_bench.tasks.asvspoof.task import ASVspoofTask
from tradeoff_bench.tasks.base import GateFactory, Task, TrainRecipe
from tradeoff_bench.tasks.synthetic import SyntheticTask
from tradeoff_bench.tasks.vad.task import VadTask

BATCH, MELS, FRAMES = 32, 40, 100
TARGET_RATIO = 1.10


@dataclass
class CRNNTask(ShapeOnlyTask):
    """Two Conv1d layers over mel frames, a GRU and a per-frame classifier; two width knobs."""

    name = "bench-crnn"

    @property
    def recipe(self) -> TrainRecipe:
        return TrainRecipe(epochs=1, batch_size=BATCH, lr=1e-3)

    @property
    def knobs(self) -> dict[str, int]:
        return {"conv": 64, "hidden": 144}

    def _build(self, widths: dict[str, int], gate: GateFactory) -> nn.Module:
        conv, hidden = widths["conv"], widths["hidden"]
        return nn.Sequential(
            nn.Conv1d(MELS, conv, 5, padding=2), nn.ReLU(), nn.Conv1d(conv, conv, 3, padding=1), nn.ReLU(),
            gate("conv", conv, 1), Recurrent(nn.GRU(conv, hidden, batch_first=True)), gate("hidden", hidden, -1),
            nn.Linear(hidden, 2),
        )  # fmt: skip

    def example_input(self) -> torch.Tensor:
        return torch.zeros(1, MELS, FRAMES)


@dataclass
class _ASVspoofNoData(ASVspoofTask):
    """asvspoof2019 with unweighted cross-entropy: its class weights would read the corpus."""

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(output, target)


def _labels(classes: int) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda output: torch.randint(classes, output.shape[:1])


def _soft(output: torch.Tensor) -> torch.Tensor:
    return torch.rand(output.shape)


@dataclass(frozen=True)
class Family:
    task: Task
    target: Callable[[torch.Tensor], torch.Tensor]
    """A target for the model's output (labels or values the task's loss takes)."""
    ratio: float | None
    """The most a DCL step may cost, in dense steps; None: recorded only."""
    input_shape: tuple[int, ...] | None = None
    """None: the task's example input with batch BATCH (uniform values: vad's are powers)."""
    min_params: int = 0


FAMILIES = {
    "vad-crnn": Family(VadTask(), _soft, TARGET_RATIO),
    "vad-transformer": Family(VadTask(model="transformer"), _soft, TARGET_RATIO),
    "asvspoof2019-resnet34": Family(_ASVspoofNoData(), _labels(2), TARGET_RATIO),
    "asvspoof2019-lcnn": Family(_ASVspoofNoData(model="lcnn"), _labels(2), TARGET_RATIO),
    "synthetic-mlp": Family(SyntheticTask(), _soft, None),
    "synthetic-conv": Family(SyntheticTask(model="conv"), _soft, TARGET_RATIO),
    "crnn-100k": Family(CRNNTask(), _soft, TARGET_RATIO, (BATCH, MELS, FRAMES), 100_000),
    "mlp-100k": Family(SyntheticTask(depth=3, max_width=224), _soft, None, (BATCH, 20), 100_000),
}


def _step(model: nn.Module, loss: Callable[[], torch.Tensor], after: Callable[[], None]) -> Callable[[], None]:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        value = loss()
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
        after()

    return step


def _seconds(step: Callable[[], None], repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats


@pytest.fixture
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_dcl_step_against_dense_step(benchmark: BenchmarkFixture, one_thread: None, family: str) -> None:
    torch.manual_seed(0)
    spec = FAMILIES[family]
    task = spec.task
    x = torch.rand(spec.input_shape or (BATCH, *task.example_input().shape[1:]))
    dense = task.build_model()
    assert sum(p.numel() for p in dense.parameters()) >= spec.min_params
    with torch.no_grad():
        y = spec.target(dense(x))

    gates = DCLGates(kappa_min=0.125)
    model = task.build_model(gate=gates)
    with torch.no_grad():  # mid-range widths: the blend runs at every knob
        for kappa in gates.kappas().values():
            kappa.fill_(0.61)
    objective = DCLObjective(DCL(alpha=0.1), task, gates, fit_complexity(task, count_macs))
    dcl_step = _step(model.train(), lambda: objective.loss(model, x, y), objective.after_step)
    dense_step = _step(dense.train(), lambda: task.loss(dense(x), y), lambda: None)

    repeats = max(3, round(0.05 / _seconds(dense_step, 3)))  # ~50 ms per measurement
    _seconds(dcl_step, repeats)  # warm-up
    ratios, dcl_times, dense_times = [], [], []
    for _ in range(9):  # interleaved rounds: drift of the machine hits both alike
        dense_times.append(_seconds(dense_step, repeats))
        dcl_times.append(_seconds(dcl_step, repeats))
        ratios.append(dcl_times[-1] / dense_times[-1])
    ratio = statistics.median(ratios)
    dcl_ms, dense_ms = 1e3 * statistics.median(dcl_times), 1e3 * statistics.median(dense_times)
    benchmark.extra_info.update(ratio=ratio, dcl_ms=dcl_ms, dense_ms=dense_ms)
    benchmark.pedantic(dcl_step, rounds=repeats, iterations=1, warmup_rounds=1)
    print(f"\n{family}: DCL step / dense step = {ratio:.3f} ({dcl_ms:.2f} ms vs {dense_ms:.2f} ms, one thread)")
    if spec.ratio is not None:
        assert ratio <= spec.ratio
