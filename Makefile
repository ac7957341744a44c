# The two commands of the README: `make figures` and `make test`.
# Each creates .venv when it is missing and installs the package into it; the install is
# redone only when pyproject.toml changes (stamp files inside .venv).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP_DEV       := $(VENV)/.stamp-dev
STAMP_NOTEBOOKS := $(VENV)/.stamp-notebooks
NOTEBOOKS := $(wildcard notebooks/*.ipynb)
SANITIZE  := $(wildcard notebooks/sanitize.cfg)
NBVAL_FLAGS := --nbval --nbval-current-env $(if $(SANITIZE),--nbval-sanitize-with $(SANITIZE))

.PHONY: help test test-fast figures lint format bench lab clean

help:
	@echo "make figures    run every notebook headless and write figures/"
	@echo "make test       unit tests, then the notebooks checked by nbval"
	@echo "make test-fast  unit tests only: no notebooks, no browser, no slow tests"
	@echo "make lint     ruff check"
	@echo "make format   ruff format (rewrites files)"
	@echo "make bench    benchmarks/run.py"
	@echo "make lab      JupyterLab on notebooks/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e ".[dev]"
	touch $@ $(STAMP_NOTEBOOKS)

$(STAMP_NOTEBOOKS): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e ".[notebooks]"
	touch $@

# One pytest run: unit tests, then the notebooks checked by nbval. pytest exits with 5 when
# it collects no test; that is not a failure here. Figures the notebooks save during the
# check go to a scratch folder, so that testing never rewrites figures/.
test: $(STAMP_DEV)
	HA_TOOLKIT_FIGURES=$$(mktemp -d) $(BIN)/python -m pytest tests \
		$(if $(NOTEBOOKS),$(NBVAL_FLAGS) notebooks/) || [ $$? -eq 5 ]

# The quick loop while editing: the unit tests without the notebooks (no nbval), without
# the browser test and without the tests marked slow; -x stops at the first failure.
test-fast: $(STAMP_DEV)
	HA_TOOLKIT_SKIP_BROWSER=1 HA_TOOLKIT_FIGURES=$$(mktemp -d) $(BIN)/python -m pytest tests \
		-x -q -m "not slow and not browser" || [ $$? -eq 5 ]

figures: $(STAMP_NOTEBOOKS)
	$(BIN)/ha-toolkit figures

lint: $(STAMP_DEV)
	$(BIN)/ruff check .

format: $(STAMP_DEV)
	$(BIN)/ruff format .

bench: $(STAMP_DEV)
	@if [ -f benchmarks/run.py ]; then \
		$(BIN)/python benchmarks/run.py; \
	else \
		echo "no benchmarks/run.py"; \
	fi

# JupyterLab rooted at notebooks/. It refuses to run as root (containers) without
# --allow-root; LAB_ARGS passes more options, e.g. make lab LAB_ARGS="--no-browser --port 8890".
LAB_ARGS ?=
lab: $(STAMP_NOTEBOOKS)
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS) notebooks

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache .hypothesis
