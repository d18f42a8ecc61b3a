# The two entry points of README.md. Both create the environment (.venv) first if needed.
VENV ?= .venv
PY := $(VENV)/bin/python
# Rules call `python scripts/...`: put the environment's python first on PATH.
export PATH := $(abspath $(VENV))/bin:$(PATH)
export PYTHONUNBUFFERED := 1

.PHONY: run test env dryrun toy clean

run: $(VENV)/.installed   ## the default study on the embedded toy model
	snakemake --cores all

test: $(VENV)/.installed  ## the test suite
	pytest -q

dryrun: $(VENV)/.installed
	snakemake -n --quiet rules

env: $(VENV)/.installed

toy: $(VENV)/.installed   ## pretrain the default toy again (not reusing the shipped one) and ship it
	rm -rf results/toy/base/toy
	snakemake --cores all results/toy/base/toy --config 'toy={shipped: ""}'
	python scripts/ship_toy.py results/toy/base/toy

$(VENV)/.installed: pyproject.toml requirements/cpu.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/cpu.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

clean:
	rm -rf results logs benchmarks/toy .snakemake scratch
