# One entry point per job. `make run` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# Test processes (pytest-xdist): most tests wait on servers, browsers and PostgreSQL, so two
# processes use a 2-CPU machine well; 1 runs the suite in this process.
PYTEST_WORKERS ?= 2
# apt-get needs root; use sudo when we are not root and it exists.
SUDO := $(shell [ "$$(id -u)" = 0 ] || command -v sudo)

.PHONY: check-workflows run test lint format check-format typecheck pytest bench lock install install-dev system-deps clean i18n vendor check-alerts

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps: reinstall only when the project or the pinned versions change.
$(VENV)/.installed-run: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	@touch $@ $(VENV)/.installed-run

install: $(VENV)/.installed-run
install-dev: $(VENV)/.installed-dev

## run: install, migrate the embedded database, load the demo plan, serve on http://$(HOST):$(PORT)
run: install
	$(BIN)/plandeck migrate
	$(BIN)/plandeck demo
	exec $(BIN)/plandeck serve --host $(HOST) --port $(PORT)

## system-deps: Debian packages the tests need (Chromium for the browser tests, promtool for the alert rules, nginx for the proxy configuration)
system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$$missing nginx-light"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing (Debian packages) for the tests"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

## check-alerts: validate the Prometheus alert rules and run their unit tests
check-alerts: system-deps
	promtool check rules deploy/prometheus/alerts.yml
	promtool test rules deploy/prometheus/alerts.test.yml

## test: lint, type-check and run the whole suite (SQLite and PostgreSQL)
test: install-dev system-deps lint check-alerts check-workflows pytest

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

pytest: install-dev
	$(BIN)/python scripts/vendor_assets.py --tests
	$(BIN)/pytest --cov --cov-report=term --cov-fail-under=90 -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

## vendor: fetch the pinned front-end files from the npm registry (checked by integrity)
vendor: install-dev
	$(BIN)/python scripts/vendor_assets.py

## i18n: extract the pages' messages and merge them into the catalogs (then translate the .po)
LOCALES := src/plandeck/web/locales
i18n: install-dev
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location --sort-output \
		--project plandeck -o $(LOCALES)/messages.pot .
	@for lang in fa; do \
		if [ -f $(LOCALES)/$$lang/LC_MESSAGES/messages.po ]; then \
			$(BIN)/pybabel update --no-fuzzy-matching -i $(LOCALES)/messages.pot -d $(LOCALES) -l $$lang; \
		else $(BIN)/pybabel init -i $(LOCALES)/messages.pot -d $(LOCALES) -l $$lang; fi; \
	done

## check-workflows: actionlint on the GitHub Actions workflows
check-workflows: install-dev
	$(BIN)/actionlint .github/workflows/*.yml

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install-dev
	@if ! command -v wrk >/dev/null 2>&1; then \
		echo "installing wrk (Debian package) for the API benchmark"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk >/dev/null; \
	fi
	@if ls bench/bench_*.py >/dev/null 2>&1; then for b in bench/bench_*.py; do $(BIN)/python $$b; done; else echo "no benchmarks yet"; fi

## lock: re-resolve the newest allowed versions and pin them in constraints.txt
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	.lock-venv/bin/pip install --quiet -e ".[dev]"
	( echo "# Pinned versions for a reproducible install; regenerate with make lock."; \
	  .lock-venv/bin/pip freeze --exclude-editable | grep -v '^-e ' ) > constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.* htmlcov dist build
