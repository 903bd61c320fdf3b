# One virtualenv in .venv for everything; Maven jars are resolved into .cache/ivy at first start.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DT     ?= $(shell date -u +%F)
ARTISTS ?= 20000
# The mart the demo publishes to and reads back. For MySQL / MariaDB:
#   MART_PASSWORD=... make demo MART=jdbc:mysql://host:3306/mart MART_USER=batch
MART   ?= jdbc:sqlite:data/mart.db
MART_USER ?=
# More arguments for each job of `make pipeline` (see jobs/ingest.py --help, jobs/similarity.py --help).
INGEST_ARGS ?= --source synthetic --artists $(ARTISTS)
SIMILARITY_ARGS ?=

# Workers of `make test-parallel` (pytest-xdist).
WORKERS ?= 2

.PHONY: setup pipeline demo test test-fast test-clock test-parallel ivy bench bench-chatbot serve lambda-zip clean mariadb

setup: $(VENV)/.installed

$(VENV)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

# One batch for DT in the order of the EMR steps: ingest, then similarity with its publish to MART. Stops at
# the first step that fails, naming it (exit status: that step's).
pipeline: setup
	@$(PY) -m jobs.pipeline --dt $(DT) --mart '$(MART)' $(if $(MART_USER),--set 'mart.user="$(MART_USER)"') \
	    --ingest-args '$(INGEST_ARGS)' --similarity-args '$(SIMILARITY_ARGS)'

# The main job end to end on the embedded defaults: the pipeline (synthetic source -> local Delta lake ->
# related artists -> SQLite mart, data/mart.db), then a few artists read back from the mart, and the
# chatbot's answer (the Lambda handler, run locally) for the most popular artist with a Hangul name.
demo: pipeline
	@$(PY) -m mart --url '$(MART)' --user '$(MART_USER)' --show 3
	@MART_USER='$(MART_USER)' $(PY) -m chatbot_lambda --mart '$(MART)' --popular-hangul

# The chatbot as a local skill server on :8080 (POST a Kakao skill request; see README).
serve: setup
	$(PY) -m chatbot_lambda.serve --mart jdbc:sqlite:data/mart.db --port 8080

lambda-zip: setup
	$(PY) scripts/lambda/build_zip.py

# Mart and chatbot tests need a MariaDB server: scripts/mariadb.sh starts a private one (installing the
# Debian package first when run as root and it is missing).
mariadb:
	scripts/mariadb.sh start

# Every Maven package of conf/local.toml (s3a's included) resolved into .cache/ivy once, before any test
# starts a JVM (jobs/common/spark.py); again only when the config changes or the cache is removed.
ivy: .cache/ivy/.warmed

.cache/ivy/.warmed: conf/local.toml conf/ivysettings.xml | setup
	$(PY) -m jobs.common.spark
	touch $@

# The whole suite, in lanes (tests/support/suite.py): the JVM tests, with the fast lane and then the clock
# lane beside them (they mostly wait on sockets and timeouts); then the tests that assert wall-clock bounds
# (marker serial), alone. What .ci/run runs. Prints a line per lane and how many Spark jobs ran.
test: setup mariadb ivy
	$(PY) -m tests.support.suite --clock-ahead-days $(CLOCK_AHEAD_DAYS) $(PYTEST_ARGS)

# The edit-run loop: every test that needs no JVM (pure rules, the chatbot, the mart on SQLite and MariaDB,
# the AWS scripts against moto), in a few minutes. JAVA_HOME points nowhere, so a test that starts a JVM
# without its marker fails here instead of slowing the lane down.
test-fast: setup mariadb
	JAVA_HOME=/nonexistent/no-jvm-in-the-fast-lane $(PY) -m pytest -m 'not jvm' $(PYTEST_ARGS)

# No test may depend on the date it runs on: the fast lane and every test of request ages, expiry,
# retention or retries (marker clock) again, with the tests' clock $(CLOCK_AHEAD_DAYS) days ahead
# (time-machine moves every date and time Python reads in the test process; durations, sleeps and
# timeouts keep the real clock).
CLOCK_AHEAD_DAYS ?= 400
test-clock: setup mariadb
	TEST_CLOCK_AHEAD_DAYS=$(CLOCK_AHEAD_DAYS) $(PY) -m pytest -m 'not jvm or clock' -p no:cacheprovider $(PYTEST_ARGS)

# The suite on $(WORKERS) pytest-xdist workers, whole files per worker, then the modules that assert
# wall-clock bounds (marker `serial`, tests/support/parallel.py) in a second pass on their own. Not the
# default: `make test` is the suite's reference command.
test-parallel: setup mariadb ivy
	status=0; \
	$(PY) -m pytest -n $(WORKERS) --dist loadfile -m 'not serial' || status=1; \
	$(PY) -m pytest -p no:xdist -m serial || status=1; \
	exit $$status

# Style held by tools (settings in pyproject.toml): `make lint` checks lint rules, import order and formatting
# and changes nothing (.ci/run runs it before the tests); `make format` fixes what can be fixed.
.PHONY: lint format
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: setup
	$(PY) -m bench.similarity

bench-chatbot: setup mariadb
	$(PY) -m bench.chatbot

clean:
	rm -rf data spark-warehouse .pytest_cache build/logs
