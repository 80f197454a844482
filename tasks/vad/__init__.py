"""`vad`: voice activity detection on speech mixed with environmental noise (PAPER.md case study 2).

Importing the package registers the task (`vad`) and the offline corpus generator (`vad-mini`).
"""

from tasks.vad import mini  # noqa: F401  (registers the corpus generator)
from tasks.vad import task  # noqa: F401  (registers the task)
