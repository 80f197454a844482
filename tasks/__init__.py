"""Tasks: what to learn.

The built-in tasks and corpus generators, and those installed distributions offer as entry
points (groups `tradeoff_bench.tasks`, `tradeoff_bench.corpora`; see `bench.plugins`), are
registered lazily: importing this package loads no torch, and `TASKS.get(name)` imports a task's
module on first use. `GateFactory`, `Task` and
`TrainRecipe` are loaded from `tasks.base` when first asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tasks.corpora import CORPORA
from tasks.metrics import METRICS, Metric, metric_spec
from tasks.registry import Registry, lazy_attributes

if TYPE_CHECKING:
    from tasks.base import GateFactory, Task, TrainRecipe

TASKS: Registry[type[Task]] = Registry("task")

for _name, _target in {
    "asvspoof2019": "tasks.asvspoof.task:ASVspoofTask",
    "synthetic": "tasks.synthetic:SyntheticTask",
    "vad": "tasks.vad.task:VadTask",
}.items():
    TASKS.register_lazy(_name, _target)
for _name, _module in {"asvspoof2019-mini": "tasks.asvspoof.mini", "vad-mini": "tasks.vad.mini"}.items():
    CORPORA.register_lazy(_name, _module)
TASKS.register_entry_points("tradeoff_bench.tasks")
CORPORA.register_entry_points("tradeoff_bench.corpora")

__getattr__ = lazy_attributes(__name__, "tasks.base", ("GateFactory", "Task", "TrainRecipe"))


__all__ = ["CORPORA", "METRICS", "TASKS", "GateFactory", "Metric", "Task", "TrainRecipe", "metric_spec"]
