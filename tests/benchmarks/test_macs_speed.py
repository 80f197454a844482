"""How long fvcore takes to count one model's MACs (core.flops.count_macs), per model family.

Run: make bench-perf (or python -m pytest tests/benchmarks -o addopts="" --benchmark-only)
Every candidate of every cell is counted once, so this is a per-candidate cost of the grid. A
family whose task is not registered is skipped.
"""

from __future__ import annotations

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from tradeoff_bench.core.flops import count_macs
from tradeoff_bench.tasks import TASKS

FAMILIES = {
    "synthetic-mlp": ("synthetic", {"model": "mlp"}),
    "synthetic-conv": ("synthetic", {"model": "conv"}),
    "vad-crnn (conv+GRU)": ("vad", {"model": "crnn"}),
    "vad-transformer": ("vad", {"model": "transformer"}),
    "asvspoof-resnet (default)": ("asvspoof2019", {}),
    "asvspoof-resnet34 (paper scale)": (
        "asvspoof2019",
        {"blocks": (3, 4, 6, 3), "width_multiplier": 1.0, "stem_stride": 1, "stem_pool": False},
    ),
    "asvspoof-lcnn": ("asvspoof2019", {"model": "lcnn", "features": "lfcc"}),
}


@pytest.mark.parametrize("family", FAMILIES)
def test_count_macs(benchmark: BenchmarkFixture, family: str) -> None:
    name, settings = FAMILIES[family]
    if name not in TASKS.names():
        pytest.skip(f"task {name!r} is not registered")
    task = TASKS.get(name)(**settings)
    model, example = task.build_model(), task.example_input()
    macs = benchmark.pedantic(count_macs, args=(model, example), rounds=10, iterations=1, warmup_rounds=1)
    benchmark.extra_info.update(macs=macs, params=sum(p.numel() for p in model.parameters()))
    assert macs > 0
