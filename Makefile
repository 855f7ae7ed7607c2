# The two commands a newcomer needs are `make run` and `make test`; both set up .venv first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help run test lint format migrate i18n alerts clean bench rehearse rehearse-down oidc-provider

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,platform]'
	touch $@

run: $(INSTALLED) ## serve the API on http://127.0.0.1:8000 (SQLite in ./var unless DATABASE_URL is set)
	mkdir -p var
	PROMETHEUS_MULTIPROC_DIR=$${PROMETHEUS_MULTIPROC_DIR:-$(CURDIR)/var/metrics} $(BIN)/learnbot serve

migrate: $(INSTALLED) ## apply pending migrations to DATABASE_URL
	$(BIN)/learnbot migrate

LOCALES_DIR := service/learnbot/locales

i18n: $(INSTALLED) ## extract messages into messages.pot and update every .po catalog
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location --sort-output \
		--project=learnbot --copyright-holder="learnbot contributors" \
		-o $(LOCALES_DIR)/messages.pot service/learnbot
	$(BIN)/pybabel update -i $(LOCALES_DIR)/messages.pot -d $(LOCALES_DIR) \
		--no-fuzzy-matching --ignore-obsolete

alerts: ## rewrite alerts/rules/api-slo-alerts.yml from the burn-rate windows in alerts/slo.py
	$(PYTHON) alerts/slo.py

lint: $(INSTALLED) ## ruff format check, ruff, mypy
	$(BIN)/ruff format --check service platform tests bench alerts
	$(BIN)/ruff check service platform tests bench alerts
	$(BIN)/mypy

format: $(INSTALLED) ## rewrite the code in the project's format
	$(BIN)/ruff format service platform tests bench alerts
	$(BIN)/ruff check --fix service platform tests bench alerts

# The suite's time is mostly real servers starting and real waits (outages, alert delays), so
# more processes than cores still pay; a file's tests stay in one process (its fixtures are
# shared and its servers started once).
TEST_WORKERS ?= 3

test: lint ## lint, then the whole test suite and its coverage of the service and the program
	$(BIN)/pytest --cov --numprocesses=$(TEST_WORKERS) --dist=loadfile

oidc-provider: $(INSTALLED) ## npm ci the account-linking tests' OpenID provider into .cache (the tests do it when first needed)
	PYTHONPATH=tests $(BIN)/python -m oidc_provider

bench: $(INSTALLED) ## load-test the API with wrk on SQLite and PostgreSQL (~5 min; see bench/README.md)
	$(BIN)/python -m bench.run

rehearse: $(INSTALLED) ## the Docker stack on this machine's Docker engine: deploy, check, deploy again, remove
	PYTHONPATH=platform:tests $(BIN)/python -m rehearsal

rehearse-down: $(INSTALLED) ## remove a stack that `REHEARSAL_KEEP=1 make rehearse` left up
	PYTHONPATH=platform:tests $(BIN)/python -m rehearsal down

clean: ## remove the virtual environment and local data
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache .coverage
