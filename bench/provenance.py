"""Where a record came from: code version, libraries, hardware, threads, time."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import inspect
import os
import platform
import subprocess
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("tradeoff-bench", "torch", "torchaudio", "fvcore", "numpy", "pandas", "torch-pruning", "torchao")
REPO = Path(__file__).resolve().parent.parent


@functools.cache
def git_state() -> dict[str, Any]:
    """Commit of the checkout the code runs from, and whether it has uncommitted changes."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


CODE_PACKAGES = ("bench", "core", "methods", "tasks")


@functools.cache
def code_digest() -> str:
    """Digest of the suite's own source (every .py file of bench/, core/, methods/, tasks/ as it is on
    disk), so records say exactly which code made them, uncommitted changes included."""
    digest = hashlib.sha256()
    for package in CODE_PACKAGES:
        root = REPO / package
        for path in sorted(root.rglob("*.py")):
            digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def code_versions(items: Iterable[tuple[dict[str, Any], str]]) -> dict[str, set[str]]:
    """Group `(provenance, id)` pairs by the code behind them: the source digest, else (older records)
    the commit. Keys name the version: the commits seen with it, and its digest (`a1b2c3d, e4f5a6b
    (code 0123…)`), so records of one code made at several commits (docs-only changes) are one version."""
    groups: dict[str, tuple[set[str], set[str]]] = {}
    for provenance, item in items:
        commit = str(provenance.get("commit") or "")[:7] or "no-git"
        commit += "+dirty" if provenance.get("dirty") else ""
        key = str(provenance.get("code") or commit)
        commits, ids = groups.setdefault(key, (set(), set()))
        commits.add(commit)
        ids.add(item)
    return {
        f"{', '.join(sorted(commits))}" + (f" (code {key})" if key not in commits else ""): ids
        for key, (commits, ids) in groups.items()
    }


def plugin_code(*classes: object) -> dict[str, str]:
    """Per plugin that defines one of `classes` (classes or functions, e.g. a user's model builder, of
    a module outside the suite's packages), a digest of its source: the file of a file plugin or a
    lone module, every .py file of an installed package. An edit of a plugin then changes the code
    identity of exactly the cells that use it."""
    found: dict[str, str] = {}
    suite = [REPO / package for package in CODE_PACKAGES]
    for cls in classes:
        source = inspect.getsourcefile(cls)  # type: ignore[arg-type]
        path = Path(source).resolve() if source else None
        if path is None or any(path.is_relative_to(root) for root in suite):
            continue
        top = sys.modules.get(cls.__module__.split(".")[0])
        top_file = getattr(top, "__file__", None)
        package = Path(top_file).parent if top_file and Path(top_file).name == "__init__.py" else None
        files = sorted(package.rglob("*.py")) if package is not None else [path]
        digest = hashlib.sha256()
        for file in files:
            digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
        found[cls.__module__ if package is None else package.name] = digest.hexdigest()[:16]
    return found


def same_code(provenance: dict[str, Any], plugins: dict[str, str] | None = None) -> bool:
    """Whether a record's code is the code running now: same source digest (and the same source of
    the plugins behind its cell, `plugins`: `plugin_code`), or for older records without a digest,
    the same commit with no uncommitted changes on either side."""
    if provenance.get("plugins", {}) != (plugins or {}):
        return False
    if provenance.get("code"):
        return provenance["code"] == code_digest()
    state = git_state()
    return (
        bool(state["commit"])
        and provenance.get("commit") == state["commit"]
        and not (provenance.get("dirty") or state["dirty"])
    )


@functools.cache
def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


@functools.cache
def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance(device: str = "cpu", plugins: dict[str, str] | None = None) -> dict[str, Any]:
    """Where a record comes from; `plugins`: the digests of the plugins behind its cell (`plugin_code`)."""
    import torch

    return {
        **git_state(),
        "code": code_digest(),
        **({"plugins": plugins} if plugins else {}),
        "versions": versions(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "device": device,
        "platform": platform.platform(),
        "time_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
