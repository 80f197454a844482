"""Writing a file so that a reader sees the old contents or the new, never a part (`core.files`)."""

from __future__ import annotations

from tradeoff_bench.core.files import atomic_write, folders_removed_on_failure, write_all

__all__ = ["atomic_write", "folders_removed_on_failure", "write_all"]
