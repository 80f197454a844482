# The two commands a user needs: `make bench` and `make test`. Both set up .venv from uv.lock when missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
# The interpreter itself, not a pyenv shim, so uv sees the venv's own Python and keeps the venv.
PYTHON_EXE := $(shell $(PYTHON) -c 'import sys; print(sys.executable)')
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
GRID ?= bench/grids/default.toml
RUN_DIR ?= runs/$(basename $(notdir $(GRID)))
JOBS ?= 2
# uv installs the locked stack; it lives in its own small venv so that syncing .venv never removes it.
UV_VERSION := 0.13.9
UV := .tools/bin/uv
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
export UV_PYTHON_DOWNLOADS := never

.PHONY: setup lock check-lock lint test bench bench-quick bench-perf clean

setup: $(STAMP)

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# --locked: refuse a uv.lock that no longer matches pyproject.toml (run `make lock` after editing it).
$(STAMP): uv.lock pyproject.toml | $(UV)
	$(UV) sync --locked --extra dev --python $(PYTHON_EXE)
	touch $(STAMP)

# The one command that refreshes the lock: newest releases within pyproject.toml's ranges.
lock: | $(UV)
	$(UV) lock --upgrade --python $(PYTHON_EXE)

# Fails when .venv differs from uv.lock in any package or version.
check-lock: $(STAMP)
	$(UV) sync --locked --extra dev --check --python $(PYTHON_EXE)

# ruff (lint and format) and mypy, configured in pyproject.toml; `make test` runs them first.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
# mypy cannot follow the editable install's import hook: it reads the namespace through links.
	mkdir -p build/mypy/tradeoff_bench
	for p in bench methods tasks core; do ln -sfn ../../../$$p build/mypy/tradeoff_bench/$$p; done
	$(BIN)/mypy

# The suite on every core (pytest-xdist), then the Ray tests alone in a process of their own: their
# cluster's workers run niced, and beside a busy test worker they miss a 3 s cell limit.
test: lint
	$(BIN)/python -m pytest --ignore=tests/bench/test_ray.py
	$(BIN)/python -m pytest -n 0 tests/bench/test_ray.py

bench: $(STAMP)
	$(BIN)/tradeoff-bench run $(GRID) --out $(RUN_DIR) --jobs $(JOBS)
	$(BIN)/tradeoff-bench report $(RUN_DIR) --to results

# A first look in minutes: every task and method, 1 seed, short schedules; tables in runs/quick/report.
bench-quick: $(STAMP)
	$(BIN)/tradeoff-bench run bench/grids/quick.toml --out runs/quick --jobs $(JOBS)
	$(BIN)/tradeoff-bench report runs/quick --to runs/quick/report

bench-perf: $(STAMP)
	$(BIN)/python -m pytest tests/benchmarks -o addopts="" --benchmark-only --benchmark-columns=min,median,max,rounds

clean:
	rm -rf $(VENV) .tools runs .pytest_cache .benchmarks
