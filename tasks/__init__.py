"""Tasks: what to learn. Importing this package registers every built-in task in `TASKS`."""

from tasks import asvspoof  # noqa: F401  (registers)
from tasks import synthetic  # noqa: F401  (registers)
from tasks import vad  # noqa: F401  (registers)
from tasks.base import TASKS, GateFactory, Task, TrainRecipe
from tasks.metrics import METRICS, Metric, metric_spec

__all__ = ["METRICS", "TASKS", "GateFactory", "Metric", "Task", "TrainRecipe", "metric_spec"]
