# Two commands for a newcomer: `make demo` (the portal with its sample knowledge base)
# and `make test` (the full suite against real PostgreSQL/pgvector, Redis and Celery).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint typecheck evaluate clean-data serve load load-demo

$(STAMP): requirements.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required (set PYTHON=/path/to/python3.11)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

demo: $(STAMP)
	DJANGO_DEBUG=1 $(PY) -m devtools.demo

PORTAL_REDIS_DB ?= 15
# ruff and mypy run first (the review asked CI to enforce them); `make test CHECKS=` skips them.
CHECKS ?= lint typecheck

test: $(STAMP) $(CHECKS)
	DJANGO_DEBUG=1 PORTAL_REDIS_DB=$(PORTAL_REDIS_DB) $(PY) -m devtools.services run -- $(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	DJANGO_DEBUG=1 $(PY) -m devtools.services run -- sh -c '$(PY) manage.py migrate --noinput -v0 && $(PY) manage.py benchmark'

evaluate: $(STAMP)
	DJANGO_DEBUG=1 $(PY) -m devtools.services run -- sh -c '$(PY) manage.py migrate --noinput -v0 && $(PY) manage.py evaluate --squad ../shared/data/korquad_v1.0_dev_articles_000-069.json --exclude-fraction 0.5'

# Production mode locally: gunicorn (portal/gunicorn.conf.py) + a Celery worker, DEBUG off.
serve: $(STAMP)
	$(PY) -m devtools.serve

# Load test against gunicorn in production mode with the sample articles indexed.
LOAD_CLIENTS ?= 50
LOAD_SECONDS ?= 300
load: $(STAMP)
	$(PY) -m devtools.load --serve --clients $(LOAD_CLIENTS) --duration $(LOAD_SECONDS)

# Against a running demo started as: ASK_RATE_LIMIT=100000/m DJANGO_NUM_PROXIES=1 PORT=8120 make demo
PORT ?= 8000
load-demo: $(STAMP)
	$(PY) -m devtools.load --url http://127.0.0.1:$(PORT) --clients 32 --duration 60

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	DJANGO_DEBUG=1 $(VENV)/bin/mypy knowledge support tasks portal devtools

clean-data:
	rm -rf .data
