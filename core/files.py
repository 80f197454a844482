"""Writing files so that a reader, or a failure, never leaves a part: one file, or several at once.

A write that fails (a full disk, a folder that cannot be written) removes its temporary files and
raises an `OSError` that names the path, so the command line can say which file in one line.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path


def atomic_write(path: Path, content: str | bytes) -> Path:
    """Write `content` to `path` (creating its folder) through a synced temporary file in the same
    folder and `os.replace`; the temporary file is removed if anything interrupts the write."""
    return write_all({path: content})[0]


def write_all(files: Mapping[Path, str | bytes], remove: Iterable[Path] = ()) -> list[Path]:
    """Write every file of `files`, then remove `remove`: all of it, or on any failure none of it.

    Every file is first written to a synced temporary file beside it; only once all are whole are
    they moved into place (`os.replace`, which needs no space), so a full disk leaves each old file as
    it was, no new one, no temporary file and no folder this call created. The written paths, in order.
    """
    temps: dict[Path, str] = {}
    with folders_removed_on_failure(*(Path(path).parent for path in files)):
        try:
            for path, content in files.items():
                path = Path(path)
                path.parent.mkdir(parents=True, exist_ok=True)
                temps[path] = _write_temp(path, content)
            for path, tmp in temps.items():
                os.replace(tmp, path)
        finally:
            for tmp in temps.values():
                Path(tmp).unlink(missing_ok=True)  # those not moved into place
    for path in remove:
        Path(path).unlink(missing_ok=True)
    return list(temps)


@contextmanager
def folders_removed_on_failure(*paths: Path) -> Iterator[None]:
    """Folders among `paths` and their parents that do not exist yet are removed again, if empty,
    when the block fails: a failed command leaves no empty folder behind."""
    missing: set[Path] = set()
    for path in paths:
        path = Path(path).absolute()
        while not path.exists() and path != path.parent:
            missing.add(path)
            path = path.parent
    try:
        yield
    except BaseException:
        for folder in sorted(missing, key=lambda p: len(p.parts), reverse=True):  # deepest first
            try:
                folder.rmdir()
            except OSError:  # not empty (another writer's), or never made
                pass
        raise


def _write_temp(path: Path, content: str | bytes) -> str:
    """A synced temporary file beside `path` holding `content`, with `path`'s mode (else rw-r--r--)."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)  # mkstemp's is private
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        if err.filename is None:  # a write(2) error names no file: name the one being written
            raise OSError(err.errno, err.strerror, str(path)) from err
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp
