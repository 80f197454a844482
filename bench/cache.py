"""The training cache: trained phases shared between the cells of a run, so identical trainings run once.

A method asks for a phase through `RunContext.trained` (or `methods.training.shared_fit`) with the
parts of the key it knows: the model's initial weights and architecture, the recipe, epochs,
learning rate, seeds, dev selection, any method-specific parameter of the training. This cache adds
what the method cannot see: the task (name, every setting, corpus), the code (the source digest the
records carry, `provenance.code`, so a code change misses), the torch version, the device and the
torch threads (CPU kernels may sum in another order with another thread count). The entry's name is
the digest of all of that: content-addressed, never invalidated, only missed.

Layout, below the run directory (`run` puts it at `RUN/cache/`; `run --no-cache` turns it off)::

    cache/<kk>/<key>.safetensors   the trained state dict; in its metadata the fit (history,
                                   selected epoch, seconds), who trained it and the key's parts
    cache/<kk>/<key>.lock          flock'ed by the cell training that key

An entry is one file, written to a temporary name and renamed (`bench.files.atomic_write`), so a
reader sees a whole entry or none: a writer killed half-way leaves only a `.tmp` file, removed by
the next cell that trains the key. Entries are read without a lock. A cell that misses takes the
key's lock (an exclusive `flock`, as the store's cell locks), looks again, and trains only if the
entry is still missing: two workers asking for one key at once (`--jobs 2`) train it once, the
second waiting and then reading. The kernel releases a lock when its holder dies, however it dies,
so a killed run leaves no lock that blocks the next. On a Ray cluster the cache must sit on a file
system every node shares to be shared between nodes (NFS v4 and Lustre carry `flock`); on a
node-local disk each node keeps its own cache, which is still correct, only shared less. A cache
that cannot be read or written (no space, no such folder) is skipped: the cell trains as without it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tradeoff_bench.bench.files import atomic_write
from tradeoff_bench.bench.provenance import code_digest
from tradeoff_bench.methods.base import Train
from tradeoff_bench.methods.training import FitResult
from tradeoff_bench.tasks.base import _json_native
from tradeoff_bench.tasks.corpora import generation_lock

CACHE_DIR = "cache"
"""The cache's folder in a run directory."""
FORMAT = "1"
SUFFIX = ".safetensors"


class TrainingCache:
    """The cache of one cell's phases (`methods.base.PhaseCache`), in the folder `root`.

    `task`, `task_settings` and `corpus` identify the data every phase of the cell trains on;
    `origin` names the cell for the records of those that reuse its trainings (`method/cell id`)."""

    def __init__(
        self,
        root: str | Path,
        *,
        task: str,
        task_settings: Mapping[str, Any],
        corpus: str,
        origin: str,
        plugins: Mapping[str, str] | None = None,
        device: str = "cpu",
        log: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.root = Path(root)
        self.context = {"task": task, "task_settings": _json_native(dict(task_settings)), "corpus": corpus}
        if plugins:  # a plugin's edit is a code change too (`Cell.plugin_code`)
            self.context["plugins"] = dict(plugins)
        self.origin = origin
        self.device = device
        self.log = log

    def key(self, key_parts: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """(digest, everything it is a digest of) for a method's `key_parts`."""
        parts = {
            **self.context,
            "code": code_digest(),
            "torch": torch.__version__,
            "device": self.device,
            "threads": torch.get_num_threads(),
            "phase": _json_native(dict(key_parts)),
        }
        text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:32], parts

    def entry(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}{SUFFIX}"

    def resolve(self, phase: str, key_parts: Mapping[str, Any], model: nn.Module, train: Train) -> FitResult:
        key, parts = self.key(key_parts)
        path = self.entry(key)
        found = _read(path, model)
        if found is None:
            with _locked(path.with_suffix(".lock")) as held:
                found = _read(path, model) if held else None
                if found is None:
                    fitted = train(model)
                    if held:
                        self._write(path, model, fitted, parts)
                    return fitted
        fitted, origin = found
        model.to(self.device).eval()
        self.log(f"{phase}: reused the training of {origin} (cache {key})")
        return dataclasses.replace(fitted, reused={"phase": phase, "key": key, "from": origin})

    def _write(self, path: Path, model: nn.Module, fitted: FitResult, parts: dict[str, Any]) -> None:
        """Keep a trained phase; a state dict safetensors cannot hold, or a full disk, keeps nothing."""
        from safetensors.torch import save

        state = model.state_dict()
        if not all(isinstance(v, torch.Tensor) and not v.is_quantized for v in state.values()):
            return
        tensors = {name: value.detach().to("cpu").contiguous().clone() for name, value in state.items()}
        metadata = {
            "format": FORMAT,
            "fit": json.dumps(fitted.to_dict(), allow_nan=True),
            "origin": self.origin,
            "key_parts": json.dumps(parts, sort_keys=True),
        }
        for stale in path.parent.glob(f".{path.name}.*.tmp"):  # a killed writer's, under the lock it held
            stale.unlink(missing_ok=True)
        try:
            atomic_write(path, save(tensors, metadata=metadata))
        except OSError as err:
            self.log(f"training cache: cannot write {path} ({err.strerror or err}); not kept")


def _read(path: Path, model: nn.Module) -> tuple[FitResult, str] | None:
    """(fit, who trained it) of the entry at `path`, its weights loaded into `model`; None when there
    is no entry, or none that can be read whole and fits the model (which is then left untouched)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            state = {name: handle.get_tensor(name) for name in handle.keys()}
        if metadata.get("format") != FORMAT:
            return None
        fitted = FitResult.from_dict(json.loads(metadata["fit"]))
        origin = metadata["origin"]
    except Exception:  # missing, truncated by a disk fault, another format: train it again
        return None
    own = model.state_dict()
    if set(own) != set(state) or any(own[n].shape != state[n].shape or own[n].dtype != state[n].dtype for n in own):
        return None
    model.load_state_dict(state)
    return fitted, origin


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[bool]:
    """Hold an exclusive lock on `path` (waiting for it) for the block, the lock file removed on
    release (`tasks.corpora.generation_lock`); yields False, holding nothing, where the lock file
    cannot be made (an unwritable cache: the caller trains uncached)."""
    with contextlib.ExitStack() as stack:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            stack.enter_context(generation_lock(path))
        except OSError:
            yield False
            return
        yield True
