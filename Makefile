# The two commands a user needs: `make bench` and `make test`. Both set up .venv when missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
GRID ?= bench/grids/default.toml
RUN_DIR ?= runs/$(basename $(notdir $(GRID)))
JOBS ?= 2

.PHONY: setup test bench bench-perf clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/tradeoff-bench run $(GRID) --out $(RUN_DIR) --jobs $(JOBS)
	$(BIN)/tradeoff-bench report $(RUN_DIR) --to results

bench-perf: $(STAMP)
	$(BIN)/python -m pytest tests/benchmarks -o addopts="" --benchmark-only --benchmark-columns=min,median,max,rounds

clean:
	rm -rf $(VENV) runs .pytest_cache .benchmarks
