"""The errors a user can cause: every command turns one into a single `error:` line and exit status 2.

They live in this torch-free module so that the command line can catch them without importing
what raises them.
"""

from __future__ import annotations

from tradeoff_bench.core.errors import UserError


class GridError(UserError, ValueError):
    """A grid file or ad-hoc grid that cannot be run."""


class StoreError(UserError, OSError):
    """The output directory cannot be used."""


class ExecutorError(UserError, RuntimeError):
    """An executor that cannot be set up as asked (a missing extra, an unreachable cluster)."""


class PluginError(UserError, ImportError):
    """A plugin that cannot be found or fails while it is imported."""


class ArtifactError(UserError, ValueError):
    """A saved model that cannot be used: missing, not a tradeoff-bench model file, of another task."""
