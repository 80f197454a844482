"""ASVspoof 2019 LA anti-spoofing: the task, its offline corpus, protocols and metrics.

Importing the package registers the task `asvspoof2019` and the corpus generator `asvspoof2019-mini`.
"""

from tradeoff_bench.tasks.asvspoof import mini  # noqa: F401  (registers the corpus generator)
from tradeoff_bench.tasks.asvspoof.task import ASVspoofTask

__all__ = ["ASVspoofTask"]
