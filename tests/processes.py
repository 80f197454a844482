"""Processes seen through /proc, for the tests that kill a driver and look for its workers."""

from __future__ import annotations

from pathlib import Path

PARENT, SESSION = 1, 3
"""Fields of /proc/PID/stat after the command name: the parent's pid, the session id."""


def live_processes(field: int, value: int) -> list[int]:
    """Pids of the live (not zombie) processes whose stat `field` equals `value`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[field]) == value and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found
