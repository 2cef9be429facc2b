# dlcourse: every target installs what it needs first (a .venv with the package, editable).
# `make help` lists the targets.

# Python 3.11 (falls back to python3 when there is no python3.11 on PATH).
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.dlcourse-installed
JUPYTER_STAMP := $(VENV)/.dlcourse-jupyter-installed
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONUNBUFFERED := 1

L        ?= 01
DATA     ?= mnist
TUNER    ?= coarse-to-fine
WORKERS  ?= 2
ARGS     ?=
TEST_WORKERS ?= 2
JOBS     ?= 2
FORCE    ?=

.DEFAULT_GOAL := help
.PHONY: help install data labs lab check report notebooks exercises jupyter test mutants lint format fetch tune tune-distributed train-distributed bench bench-quick clean

help:  ## List the targets
	@echo "dlcourse make targets:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-20s %s\n", $$1, $$2}'
	@echo "Variables: L=NN (lab), JOBS=N (labs at once), TUNER=grid|random|coarse-to-fine|cv-grid|hyperband|bayesian, WORKERS=N, ARGS='...', FORCE=1"

$(STAMP): setup.cfg pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: no python3.11 (or python3) on PATH; install Python 3.11"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,grading]'
	@touch $(STAMP)

install: $(STAMP)  ## Create .venv and install dlcourse with its dev tools

data: $(STAMP)  ## Write the embedded datasets into data/ (idempotent, atomic)
	$(PY) -m dlcourse data

fetch: $(STAMP)  ## Download a real dataset (needs a network): make fetch DATA=mnist|fashion_mnist|cifar10
	$(PY) -m dlcourse.data.real $(DATA)

labs: data  ## Every lab at its defaults, JOBS=2 at once, then runs/REPORT.md; skips up-to-date labs (FORCE=1: rerun all)
	$(PY) -m dlcourse labs run --all --jobs $(JOBS) $(if $(FORCE),--force) -- $(ARGS)

lab: data  ## Run one lab: make lab L=NN [ARGS='--epochs 5']
	$(PY) -m dlcourse labs run --force $(L) -- $(ARGS)

check: data  ## Run every lab at its defaults (reusing up-to-date runs); fail if a claim fails
	$(PY) -m dlcourse labs check --jobs $(JOBS) $(if $(FORCE),--force) -- $(ARGS)

report: $(STAMP)  ## Rebuild runs/REPORT.md from whatever is in runs/
	$(PY) -m dlcourse labs report

notebooks: $(STAMP)  ## Write every lab as a Jupyter notebook into notebooks/ (from labs/, no outputs)
	$(PY) -m dlcourse labs notebook --out notebooks

exercises: $(STAMP)  ## Write every exercise lab's student notebook and script into exercises/ (nbgrader: make exercises ARGS=--nbgrader)
	$(PY) -m dlcourse labs exercise --out exercises $(ARGS)

$(JUPYTER_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,grading,jupyter]'
	@touch $(JUPYTER_STAMP)

jupyter: data notebooks $(JUPYTER_STAMP)  ## Open JupyterLab on notebooks/ (installs the optional `jupyter` extra)
	$(PY) -m jupyterlab --ServerApp.root_dir=notebooks

test: $(STAMP)  ## Run the test suite on both cores (pytest-xdist; TEST_WORKERS=0: one process)
	$(PY) -m pytest -n $(TEST_WORKERS) $(ARGS)

mutants: $(STAMP)  ## Mutation check: break tested functions one at a time (a temp copy); fail if a test misses one
	$(PY) tests/mutants.py $(ARGS)

lint: $(STAMP)  ## ruff check + format check (settings in pyproject.toml; under a second)
	$(PY) -m ruff check dlcourse labs tests
	$(PY) -m ruff format --check dlcourse labs tests

format: $(STAMP)  ## ruff format + the safe ruff fixes, in place
	$(PY) -m ruff check --fix dlcourse labs tests
	$(PY) -m ruff format dlcourse labs tests

tune: data  ## Hyperparameter search on the embedded data: make tune TUNER=coarse-to-fine
	$(PY) -m dlcourse.tuning --tuner $(TUNER) $(ARGS)

tune-distributed: data  ## keras-tuner chief + WORKERS workers on 127.0.0.1
	$(PY) -m dlcourse.tuning.distributed --workers $(WORKERS) --tuner $(TUNER) $(ARGS)

train-distributed: data  ## MultiWorkerMirroredStrategy with WORKERS processes on 127.0.0.1
	$(PY) -m dlcourse.training.distributed --workers $(WORKERS) $(ARGS)

bench: data  ## Every benchmark at full size; rewrites BENCHMARKS.md (its footer: how long it took)
	$(PY) -m dlcourse.bench $(ARGS)

bench-quick: data  ## Every benchmark at smoke-test sizes into runs/BENCHMARKS-quick.md (minutes)
	$(PY) -m dlcourse.bench --quick $(ARGS)

clean:  ## Remove runs/, generated data and caches (keeps .venv)
	rm -rf runs .pytest_cache .ruff_cache
	find data -mindepth 1 ! -name README.md -exec rm -rf {} +
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
