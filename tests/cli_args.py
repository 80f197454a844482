"""Command-line arguments the CLI tests share: the tiny synthetic task every run test trains."""

from __future__ import annotations


def task_settings(**settings: object) -> list[str]:
    """`--task-set key=value` for each setting."""
    return [arg for key, value in settings.items() for arg in ("--task-set", f"{key}={value}")]


TINY_SYNTHETIC = ["--task", "synthetic", *task_settings(n_train=128, n_val=32, n_test=64, epochs=1), "--no-latency"]
"""The synthetic task small enough that a cell trains in about a second; no latency phase (tests/bench/
test_latency.py times runs)."""
