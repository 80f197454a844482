"""Where a record came from: code version, libraries, hardware, threads, time."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
import platform
import subprocess
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


def same_code(provenance: dict[str, Any]) -> bool:
    """Whether a record's code is the code running now: same source digest, or for older records
    without one, the same commit with no uncommitted changes on either side."""
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


def provenance(device: str = "cpu") -> dict[str, Any]:
    import torch

    return {
        **git_state(),
        "code": code_digest(),
        "versions": versions(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "device": device,
        "platform": platform.platform(),
        "time_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
