# The README's two commands. Each sets itself up first: a virtual environment in .venv with bomf
# (editable) and its test tools, made once (~2 min) and remade when pyproject.toml or setup.py change.
#
#   make sweep                 the default suite (offline), then tables, plots, and the verdict
#                              against the committed reference (results/reference/offline)
#   make sweep SUITE=smoke     any suite: smoke, offline, variants, regimes, stage1, generation, search, paper, or a .toml path
#   make test                  pyflakes (ruff check --select F), then the tests (CI runs exactly this: .ci/run)
#
# ARGS passes more arguments through: make sweep ARGS=--dry-run, make test ARGS="-x tests/harness".
# Use pip (not uv or poetry): torch is pinned to a range that takes the local CPU wheel.

PYTHON ?= python3
VENV ?= .venv
SUITE ?= offline
ARGS ?=
BIN := $(VENV)/bin

.PHONY: sweep test setup

sweep: $(VENV)/.installed
	$(BIN)/python run_all.py --suite $(SUITE) $(ARGS)

test: $(VENV)/.installed
	$(BIN)/python -m ruff check --select F bomf baselines tests benchmarks run_all.py
	$(BIN)/python -m pytest -q $(ARGS)

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -e '.[dev]'
	touch $@
