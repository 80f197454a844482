"""Features computed once per corpus version, not once per cell.

A task that renders fixed mixtures and featurises them (vad: seconds per cell, the same tensors for
every cell of a run) keeps them in one file per content key under its data folder: a digest of
what the tensors are made of (the manifest of every mixture) and of the source of the modules that
make them, so an edit of the mixer or the feature code is a new key, never a stale file. The file
is written to a temporary name and renamed into place, so a killed writer leaves no half file and
parallel workers that race write the same bytes. It is read memory-mapped: workers of one run
share its pages instead of holding a copy each.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType

import torch

Tensors = dict[str, dict[str, torch.Tensor]]
"""Per split, named tensors."""

FOLDER = "features"
"""The cache's folder under a task's data folder."""


def feature_key(content: str, modules: Iterable[ModuleType]) -> str:
    """Digest of `content` (what the features are computed from) and of the source of `modules`."""
    digest = hashlib.sha256(content.encode())
    for module in modules:
        digest.update(inspect.getsource(module).encode())
    return digest.hexdigest()[:20]


def cached_features(folder: Path, key: str, build: Callable[[], Tensors]) -> Tensors:
    """The tensors stored under `key` in `folder`, or `build()`'s, stored there for the next caller.
    A folder that cannot be written only costs the saving: the features are still returned."""
    path = folder / f"{key}.pt"
    if path.is_file():
        return torch.load(path, mmap=True, weights_only=True)
    tensors = build()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{key}.", suffix=".tmp")
        os.close(handle)
        try:
            torch.save(tensors, temporary)
            os.replace(temporary, path)
        finally:
            Path(temporary).unlink(missing_ok=True)
    except OSError:
        pass
    return tensors
