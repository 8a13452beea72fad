# Dumu Waks — the two commands a new developer needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed-$(shell cat requirements.lock requirements-dev.lock | sha1sum | cut -c1-12)
PYTEST_WORKERS ?= 2

.PHONY: run test test-system install services system-deps db migrate demo static lint format schema bench clean

$(PY):
	@command -v $(PYTHON) >/dev/null || PYTHON=python3; $${PYTHON:-$(PYTHON)} -m venv $(VENV) || python3 -m venv $(VENV)

# Installs exactly the locked versions of every package, direct and transitive (bin/lock-requirements).
$(STAMP): requirements.lock requirements-dev.lock | $(PY)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements-dev.lock
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)

services:  ## start local PostgreSQL and Redis when they are installed but not running
	@bin/ensure-services

system-deps:  ## Debian packages the tests and benchmarks use: Chromium (admin browser test) and wrk
	@bin/ensure-system-packages

db: install services
	DJANGO_SETTINGS_MODULE=dumuwaks.settings.local $(PY) manage.py ensure_database

migrate: db
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py load_demo_data

static: install  ## hashed, compressed static files (admin, API docs) that WhiteNoise serves
	DJANGO_SETTINGS_MODULE=dumuwaks.settings.local $(PY) manage.py collectstatic --noinput -v 0

run: demo static  ## API + WebSockets on http://localhost:8000, Celery worker and beat; Ctrl-C stops all
	bin/run-dev

test: install services system-deps  ## the whole suite on the real PostgreSQL and Redis
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	DJANGO_SETTINGS_MODULE=dumuwaks.settings.test $(PY) manage.py makemigrations --check --dry-run
	DW_TEST_RUN_ID=$$$$ $(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup --create-db -q

test-system: install services  ## only the system tier: real web, worker and beat processes (tests/system)
	DW_TEST_RUN_ID=$$$$ $(PY) -m pytest tests/system -p no:xdist -q

lint: install
	$(PY) -m ruff check .

format: install
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

schema: install
	DJANGO_SETTINGS_MODULE=dumuwaks.settings.test $(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null

bench: install services system-deps  ## load tests on loopback; they print their numbers (see README)
	$(PY) bench/load.py
	$(PY) bench/matching.py
	$(PY) bench/chat.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
