"""Recordings shipped in Debian packages: fetched once into a cache folder, decoded to 16 kHz mono.

`fetch("ktuberling-data")` runs `apt-get download` and `dpkg -x` (nothing is installed) into
CACHE/ktuberling-data/, with the package's version in CACHE/ktuberling-data/package.json; a later
call reads the cache and needs no network. CACHE is `$TRADEOFF_BENCH_CACHE/debian`, by default
`~/.cache/tradeoff-bench/debian`. Where apt-get is missing or the registry is unreachable, `fetch`
raises `SourceUnavailable`, and the caller falls back to its offline source.

Decoding: soundfile (libsndfile reads WAV, FLAC, OGG Vorbis and Opus), channels averaged,
`torchaudio.functional.resample` to 16 kHz.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from tradeoff_bench.core.errors import UserError

CACHE_ENV = "TRADEOFF_BENCH_CACHE"
RATE = 16_000
_INFO = "package.json"


class SourceUnavailable(UserError, RuntimeError):
    """A package could not be fetched (no apt-get, no network, unknown package)."""


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    root: Path
    """The unpacked file tree (usr/share/...)."""

    @property
    def copyright(self) -> Path:
        return self.root / "usr" / "share" / "doc" / self.name / "copyright"


def cache_dir() -> Path:
    base = os.environ.get(CACHE_ENV)
    return (Path(base) if base else Path.home() / ".cache" / "tradeoff-bench") / "debian"


def fetch(name: str, cache: Path | None = None) -> Package:
    """The unpacked package `name`, from the cache or downloaded into it."""
    cache = cache or cache_dir()
    target = cache / name
    try:
        return Package(name, json.loads((target / _INFO).read_text())["version"], target)
    except (OSError, ValueError, KeyError):
        pass
    if not (shutil.which("apt-get") and shutil.which("dpkg-deb")):
        raise SourceUnavailable(f"{name}: apt-get and dpkg-deb are needed to fetch Debian packages")
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=cache))
    try:
        _run(["apt-get", "download", name], staging, name)
        debs = sorted(staging.glob("*.deb"))
        if len(debs) != 1:
            raise SourceUnavailable(f"{name}: apt-get download gave {len(debs)} .deb files")
        version = _run(["dpkg-deb", "-f", str(debs[0]), "Version"], staging, name).strip()
        _run(["dpkg-deb", "-x", str(debs[0]), str(staging)], staging, name)
        debs[0].unlink()
        (staging / _INFO).write_text(json.dumps({"name": name, "version": version}))
        shutil.rmtree(target, ignore_errors=True)
        os.rename(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Package(name, version, target)


def read_16k(source: Path | BinaryIO, raw: tuple[int, str] | None = None) -> np.ndarray:
    """A recording (a file, or headerless samples of `raw` = (rate, soundfile subtype)) as 16 kHz mono float32."""
    import soundfile as sf
    import torch
    import torchaudio.functional as AF

    where = str(source) if isinstance(source, Path) else source
    if raw is None:
        samples, rate = sf.read(where, dtype="float32", always_2d=True)
    else:
        samples, rate = sf.read(
            where, dtype="float32", always_2d=True, format="RAW", samplerate=raw[0], channels=1, subtype=raw[1]
        )
    mono = torch.from_numpy(np.ascontiguousarray(samples.mean(axis=1)))
    if rate != RATE:
        mono = AF.resample(mono, rate, RATE)
    return mono.numpy()


def _run(command: list[str], cwd: Path, name: str) -> str:
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise SourceUnavailable(f"{name}: {' '.join(command[:2])} failed ({err})") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise SourceUnavailable(f"{name}: {' '.join(command[:2])} exited {done.returncode} ({tail[0]})")
    return done.stdout
