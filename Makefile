# svtools: one interface for set-up, data, reports and tests. `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
JOBS ?= $(shell nproc)

.PHONY: help env test-env demo data reports real-data real-reports london-data report test test-fast lab bench attack clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-13s %s\n", $$1, $$2}'

$(BIN)/svtools: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found (svtools needs Python 3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name svtools --display-name "Python (svtools)" >/dev/null
	@touch $@

env: $(BIN)/svtools ## create .venv with the pinned packages and the `svtools` Jupyter kernel

$(VENV)/.test-deps: $(BIN)/svtools
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

test-env: $(VENV)/.test-deps ## env plus the test tools

data/raw/demo/truth.json: | env
	$(BIN)/svtools demo-data

data/processed/demo/dataset.json: data/raw/demo/truth.json
	$(BIN)/svtools ingest

data: data/processed/demo/dataset.json ## generate the synthetic demo extract and ingest it into data/processed

reports: data ## build every CSP profile from the demo data into outputs/ (prints the index path)
	$(BIN)/svtools build --jobs $(JOBS)

demo: reports ## THE MAIN JOB: install, generate and validate the demo data, build all profiles

real-data: env ## ingest the real data.police.uk files shipped in ../shared/data/real
	$(BIN)/svtools ingest --police-uk

real-reports: real-data ## build the real-data profiles (crime types, hotspots, deprivation)
	$(BIN)/svtools build --dataset police_uk --jobs $(JOBS)

london-data: env ## ingest the real Metropolitan Police borough counts (32 London CSPs, 2010-2023; kind: counts)
	$(BIN)/svtools ingest --dataset london_mps --extract ../shared/data/real/london_mps --mapping london_mps

report: data ## one CSP's profiles: make report CSP=E22000027
	$(BIN)/svtools build --csp $(CSP) --jobs $(JOBS)

test: test-env ## install what the tests need and run them (what CI runs)
	$(BIN)/python -m pytest -n 2 --dist loadfile; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

test-fast: test-env ## the tests without the slow notebook runs
	$(BIN)/python -m pytest -m "not slow" -n 2

lab: env ## open JupyterLab on notebooks/ with the svtools kernel
	$(BIN)/jupyter lab notebooks/

bench: data ## speed and memory benchmarks (prints figures)
	$(BIN)/python benchmarks/bench_ingest.py
	$(BIN)/python benchmarks/bench_build.py

attack: env ## attack the latest run from its published files (hidden cells recovered: should be 0)
	$(BIN)/python benchmarks/attack.py outputs/latest

clean: ## remove generated data and outputs, published and analysts' (keeps .venv)
	rm -rf data/raw/demo data/processed/demo data/processed/police_uk outputs/[0-9]* outputs/latest outputs/.cache outputs/_analyst
