# Two commands for a newcomer: `make demo` (the portal with its sample knowledge base)
# and `make test` (the full suite against real PostgreSQL/pgvector, Redis and Celery).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint typecheck evaluate clean-data

$(STAMP): requirements.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required (set PYTHON=/path/to/python3.11)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

demo: $(STAMP)
	DJANGO_DEBUG=1 $(PY) -m devtools.demo

PORTAL_REDIS_DB ?= 15

test: $(STAMP)
	DJANGO_DEBUG=1 PORTAL_REDIS_DB=$(PORTAL_REDIS_DB) $(PY) -m devtools.services run -- $(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	DJANGO_DEBUG=1 $(PY) -m devtools.services run -- $(PY) manage.py benchmark

evaluate: $(STAMP)
	DJANGO_DEBUG=1 $(PY) -m devtools.services run -- $(PY) manage.py evaluate --squad ../shared/data/korquad_v1.0_dev_articles_000-069.json --exclude-fraction 0.5

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	DJANGO_DEBUG=1 $(VENV)/bin/mypy knowledge support tasks portal

clean-data:
	rm -rf .data
