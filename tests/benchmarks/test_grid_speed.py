"""How long planning a 1,000-cell grid takes: validate and resolve every cell of a parsed grid.

Run: make bench-perf. Every cell's task and method are configured (settings type-checked, defaults
filled in) and hashed into a cell id, so this is what `tradeoff-bench run` pays before the first cell.
"""

from __future__ import annotations

from pytest_benchmark.fixture import BenchmarkFixture

from tradeoff_bench.bench.grid import plan_grid

SPEC = {
    "seeds": list(range(10)),
    "tasks": [{"name": "synthetic", "settings": {"model": model}} for model in ("mlp", "conv")],
    "methods": [
        {"name": "dense", "settings": {"multipliers": [0.25, 0.5, 1.0]}, "sweep": {"epochs": list(range(1, 51))}},
    ],
    "peers": False,
}


def test_plan_a_1000_cell_grid(benchmark: BenchmarkFixture) -> None:
    cells = benchmark(plan_grid, SPEC)
    assert len(cells) == 1000 and len({c.cell_id for c in cells}) == 1000
