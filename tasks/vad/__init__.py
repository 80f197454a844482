"""`vad`: voice activity detection on speech mixed with environmental noise (arXiv 2601.13704, VAD case study).

Importing the package registers the task (`vad`) and the offline corpus generator (`vad-mini`).
"""

from tradeoff_bench.tasks.vad import (
    mini,  # noqa: F401  (registers the corpus generator)
    task,  # noqa: F401  (registers the task)
)
