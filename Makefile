# Two commands do all the set-up: `make run` runs the platform, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
STORE_VENV := .venv-store
PY := $(VENV)/bin/python

.PHONY: run test fault bench seed rematch rotate-keys lint check-python broker assets translations catalogs browser clean

ASSETS := services/gateway/assets
VENDORED := services/gateway/gateway/static/vendor/.copied
CATALOGS := $(patsubst %.po,%.mo,$(wildcard services/gateway/gateway/translations/*/*/LC_MESSAGES/*.po))
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

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

# KRDS and Swagger UI, from the npm packages pinned in package-lock.json, served by the gateway itself
$(VENDORED): $(ASSETS)/package.json $(ASSETS)/package-lock.json $(ASSETS)/vendor.py | $(VENV)/.installed
	cd $(ASSETS) && npm ci --ignore-scripts --no-audit --no-fund --silent
	$(PY) $(ASSETS)/vendor.py
	touch $@

assets: $(VENDORED)

# the pages' gettext catalogs, compiled
%.mo: %.po | $(VENV)/.installed
	$(VENV)/bin/pybabel compile --statistics -i $< -o $@

translations: $(CATALOGS)

# after changing the pages' text: extract each part's messages and merge them into its Korean
# catalog (then fill the new msgstr entries and run make translations)
GATEWAY := services/gateway/gateway
PARTS := attendee account business organiser events checkin
catalogs: $(VENV)/.installed
	@mkdir -p var
	$(VENV)/bin/pybabel extract -F services/gateway/babel.cfg -k lazy_gettext -o var/base.pot $(GATEWAY)/templates/base.html \
		$(GATEWAY)/templates/macros $(GATEWAY)/templates/public $(GATEWAY)/web/public.py $(GATEWAY)/web/i18n.py \
		$(GATEWAY)/web/labels.py
	$(VENV)/bin/pybabel update -i var/base.pot -d $(GATEWAY)/translations/base -l ko --no-fuzzy-matching --ignore-obsolete
	for part in $(PARTS); do \
		$(VENV)/bin/pybabel extract -F services/gateway/babel.cfg -k lazy_gettext -o var/$$part.pot \
			$(GATEWAY)/templates/$$part $(GATEWAY)/web/$$part.py && \
		$(VENV)/bin/pybabel update -i var/$$part.pot -d $(GATEWAY)/translations/$$part -l ko --no-fuzzy-matching --ignore-obsolete; \
	done

# the browser tests drive Debian's chromium (Playwright cannot download a browser here)
browser:
	@command -v chromium >/dev/null || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk)

run: $(VENV)/.installed $(STORE_VENV)/.installed broker assets translations
	$(PY) -m deploy.local.run $(ARGS)

# every fault scenario, with its table (a short form runs inside `make test`)
fault: $(VENV)/.installed $(STORE_VENV)/.installed broker assets translations
	FAULT_SUITE=full $(PY) -m pytest tests/fault -s $(PYTEST_ARGS)

# the benchmark suite: results in bench/results/ (a short form runs inside `make test`)
bench: $(VENV)/.installed $(STORE_VENV)/.installed broker assets translations
	$(PY) -m bench $(ARGS)

seed: $(VENV)/.installed
	$(PY) -m deploy.local.seed

# bring every stored suggestion's score up to date now (the services also do it on their own)
# through matching's own embedded store (see make run), unless MATCHING_MONGO_URI or MONGO_URI is set
rematch: $(VENV)/.installed
	MONGO_URI="$${MATCHING_MONGO_URI:-$${MONGO_URI:-mongodb://127.0.0.1:$$(( $${MONGO_PORT:-27017} + 1 ))/?directConnection=true}}" \
		$(PY) -m matching.rematch

# reseal the sensitive data with the newest key of SENSITIVE_DATA_KEY (see README: key rotation)
rotate-keys: $(VENV)/.installed
	$(PY) -m registration.rotate_keys

test: $(VENV)/.installed $(STORE_VENV)/.installed broker assets translations browser
	$(VENV)/bin/ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) $(STORE_VENV) .pytest_cache .ruff_cache $(ASSETS)/node_modules services/gateway/gateway/static/vendor
	find services/gateway/gateway/translations -name '*.mo' -delete
