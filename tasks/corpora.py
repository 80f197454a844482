"""Offline corpus generators: small corpora written in the exact on-disk layout of a real one.

`tradeoff-bench data generate NAME --root DIR` calls the generator registered under NAME. A
generated corpus always carries its own name (e.g. `asvspoof2019-mini`), never the real corpus's.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from tradeoff_bench.core.registry import Registry

T = TypeVar("T")


@dataclass(frozen=True)
class CorpusGenerator:
    name: str
    description: str
    generate: Callable[[Path, int], None]
    """(root, seed) -> None: writes the corpus under root; idempotent for the same seed."""


CORPORA: Registry[CorpusGenerator] = Registry("corpus")


def register_corpus(
    name: str, description: str
) -> Callable[[Callable[[Path, int], None]], Callable[[Path, int], None]]:
    """Decorator registering a generator function `(root, seed) -> None` under `name`."""

    def add(generate: Callable[[Path, int], None]) -> Callable[[Path, int], None]:
        CORPORA.register(name)(CorpusGenerator(name, description, generate))
        return generate

    return add


def announce_generation(name: str, path: Path) -> None:
    """Tell the user a corpus is being generated, and where (on stderr: minutes on a first run that
    would otherwise look stuck at 0 %)."""
    print(f"generating {name} into {path} (first use only: later runs read it)", file=sys.stderr, flush=True)


def progress(items: Iterable[T], total: int, what: str) -> Iterator[T]:
    """`items`, with a progress bar on stderr while a corpus is generated (minutes on a first run)."""
    from tqdm import tqdm

    yield from tqdm(items, total=total, desc=what, unit="item", file=sys.stderr, mininterval=2.0, leave=False)


@contextmanager
def generation_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing), so parallel workers that all find a
    corpus missing generate it once: the first writes it, the others find it written.

    The lock file is removed on release, however the block ends (a full disk included): the holder
    unlinks it, then unlocks; a waiter that locked the unlinked file notices and locks the new one.
    """
    while True:
        handle = open(path, "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            if os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino:
                break
        except FileNotFoundError:  # released (unlinked) while this one waited
            pass
        except BaseException:
            handle.close()
            raise
        handle.close()
    try:
        yield
    finally:
        Path(path).unlink(missing_ok=True)
        handle.close()  # releases the flock
