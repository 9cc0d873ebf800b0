# Two commands do all the set-up: `make run` runs the platform, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
STORE_VENV := .venv-store
PY := $(VENV)/bin/python

.PHONY: run test fault bench seed rematch lint check-python broker clean

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is needed (nameko 3.0.0rc11 and eventlet); set PYTHON=python3.11")'

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml | check-python
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# the embedded store needs a newer pymongo than the services, so it has a virtual env of its own
$(STORE_VENV)/.installed: requirements-store.txt | check-python
	$(PYTHON) -m venv $(STORE_VENV)
	$(STORE_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-store.txt
	touch $@

broker:
	@deploy/local/ensure-rabbitmq.sh

run: $(VENV)/.installed $(STORE_VENV)/.installed broker
	$(PY) -m deploy.local.run $(ARGS)

# every fault scenario, with its table (a short form runs inside `make test`)
fault: $(VENV)/.installed $(STORE_VENV)/.installed broker
	FAULT_SUITE=full $(PY) -m pytest tests/fault -s $(PYTEST_ARGS)

# the benchmark suite: results in bench/results/ (a short form runs inside `make test`)
bench: $(VENV)/.installed $(STORE_VENV)/.installed broker
	$(PY) -m bench $(ARGS)

seed: $(VENV)/.installed
	$(PY) -m deploy.local.seed

# bring every stored suggestion's score up to date now (the services also do it on their own)
rematch: $(VENV)/.installed
	$(PY) -m matching.rematch

test: $(VENV)/.installed $(STORE_VENV)/.installed broker
	$(VENV)/bin/ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) $(STORE_VENV) .pytest_cache .ruff_cache
