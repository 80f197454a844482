"""Tasks: what to learn.

The built-in tasks and corpus generators, and those installed distributions offer as entry
points (groups `tradeoff_bench.tasks`, `tradeoff_bench.corpora`; see `bench.plugins`), are
registered lazily: importing this package loads no torch, and `TASKS.get(name)` imports a task's
module on first use. `GateFactory`, `Task` and
`TrainRecipe` are loaded from `tasks.base` when first asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tradeoff_bench.core.registry import Registry, lazy_attributes
from tradeoff_bench.tasks.corpora import CORPORA
from tradeoff_bench.tasks.metrics import METRICS, Metric, metric_spec

if TYPE_CHECKING:
    from tradeoff_bench.tasks.base import GateFactory, Task, TrainRecipe

TASKS: Registry[type[Task]] = Registry("task")

for _name, _target in {
    "asvspoof2019": "tradeoff_bench.tasks.asvspoof.task:ASVspoofTask",
    "synthetic": "tradeoff_bench.tasks.synthetic:SyntheticTask",
    "vad": "tradeoff_bench.tasks.vad.task:VadTask",
}.items():
    TASKS.register_lazy(_name, _target)
for _name, _module in {
    "asvspoof2019-mini": "tradeoff_bench.tasks.asvspoof.mini",
    "vad-mini": "tradeoff_bench.tasks.vad.mini",
}.items():
    CORPORA.register_lazy(_name, _module)
TASKS.register_entry_points("tradeoff_bench.tasks")
CORPORA.register_entry_points("tradeoff_bench.corpora")

__getattr__ = lazy_attributes(__name__, "tradeoff_bench.tasks.base", ("GateFactory", "Task", "TrainRecipe"))


__all__ = ["CORPORA", "METRICS", "TASKS", "GateFactory", "Metric", "Task", "TrainRecipe", "metric_spec"]
