"""Plugins join the contract tests: installed ones through their entry points (the registries read
them), others through `TRADEOFF_BENCH_PLUGINS=my_method.py pytest tests/contract` (bench.plugins)."""

from tradeoff_bench.bench.plugins import load_plugins

load_plugins()
