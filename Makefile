# crmtools: the front door. `make` lists the targets.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PERIOD ?=
SAMPLE_DIR ?= data/sample

.DEFAULT_GOAL := help
.PHONY: help install sample report test lint benchmarks lab clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip uv

install: $(PY) ## create .venv and install crmtools with its test and Spark extras
	$(VENV)/bin/uv pip install --python $(PY) --compile-bytecode --quiet -e ".[test,spark]"
	@# the editable package's own bytecode too: with PYTHONDONTWRITEBYTECODE set, every process (a run, each of its
	@# kernels, each test worker) would otherwise compile crmtools from source (0.3 s each); a stale file is ignored
	$(PY) -m compileall -q crmtools

sample: install ## write the seeded sample data to data/sample
	$(VENV)/bin/crmtools sample-data --out $(SAMPLE_DIR)

report: sample ## the main job: install, sample data, full monthly report set (PERIOD=YYYY-MM optional)
	$(VENV)/bin/crmtools report $(if $(PERIOD),--period $(PERIOD),)

test: install ## install and run the test suite (the command CI runs)
	$(PY) -m pytest -n 2 --dist loadgroup -p no:cacheprovider

lint: install ## ruff: lint and format check (fix with: .venv/bin/ruff check --fix . && .venv/bin/ruff format .)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

benchmarks: install ## run every benchmark (speed and memory as ratios against reference runs)
	$(PY) benchmarks/run_all.py

lab: install ## open JupyterLab at the repository root (notebooks, data and reports browsable; works as root too)
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=. $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

clean: ## remove generated data, reports and the environment
	rm -rf $(VENV) data/sample reports/*/ reports/index.html reports/index.ja.html reports/.staging reports/.failed
