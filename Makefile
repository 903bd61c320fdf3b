# One virtualenv in .venv for everything; Maven jars are resolved into .cache/ivy at first start.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DT     ?= $(shell date -u +%F)
ARTISTS ?= 20000

.PHONY: setup demo test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# The main job end to end on the embedded defaults: synthetic source -> local Delta lake -> related artists.
demo: setup
	$(PY) jobs/ingest.py --source synthetic --artists $(ARTISTS) --dt $(DT)
	$(PY) jobs/similarity.py --dt $(DT) --show 10

test: setup
	$(PY) -m pytest

bench: setup
	$(PY) bench/similarity.py

clean:
	rm -rf data spark-warehouse .pytest_cache
