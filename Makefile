# One virtualenv in .venv for everything; Maven jars are resolved into .cache/ivy at first start.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DT     ?= $(shell date -u +%F)
ARTISTS ?= 20000

.PHONY: setup demo test bench clean mariadb

setup: $(VENV)/.installed

$(VENV)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# The main job end to end on the embedded defaults: synthetic source -> local Delta lake -> related
# artists -> SQLite mart (data/mart.db), then a few artists read back from the mart.
demo: setup
	$(PY) jobs/ingest.py --source synthetic --artists $(ARTISTS) --dt $(DT)
	$(PY) jobs/similarity.py --dt $(DT)
	$(PY) -m mart --url jdbc:sqlite:data/mart.db --show 5

# Mart and chatbot tests need a MariaDB server: scripts/mariadb.sh starts a private one (installing the
# Debian package first when run as root and it is missing).
mariadb:
	scripts/mariadb.sh start

test: setup mariadb
	$(PY) -m pytest

bench: setup
	$(PY) bench/similarity.py

clean:
	rm -rf data spark-warehouse .pytest_cache
