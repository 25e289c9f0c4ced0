# Relais — `make run` to try it, `make test` to check it. `make help` lists the rest.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi

.DEFAULT_GOAL := help
.PHONY: help run test lint fmt db-check db-upgrade seed worker translations bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@ $(VENV)/.installed

run: $(VENV)/.installed ## migrate, seed the demo and serve on http://127.0.0.1:5000 (Ctrl-C stops)
	$(FLASK) dev

test: $(VENV)/.installed-dev ## the whole test suite (embedded defaults, or DATABASE_URL/REDIS_URL)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev ## ruff
	$(BIN)/ruff check .

fmt: $(VENV)/.installed-dev ## ruff's fixes and formatting
	$(BIN)/ruff check --fix .

db-upgrade: $(VENV)/.installed ## apply migrations (as MIGRATION_DATABASE_URL)
	$(FLASK) db upgrade

db-check: $(VENV)/.installed ## fail if the models and the migrations disagree
	$(FLASK) db upgrade
	$(FLASK) db check

seed: $(VENV)/.installed ## create the demo agency (idempotent)
	$(FLASK) seed-demo

worker: $(VENV)/.installed ## an RQ worker
	$(FLASK) worker

translations: $(VENV)/.installed-dev ## extract strings and update the catalogues, then compile
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o agency/translations/messages.pot .
	$(BIN)/pybabel update -i agency/translations/messages.pot -d agency/translations --no-fuzzy-matching
	$(BIN)/pybabel compile -d agency/translations

bench: $(VENV)/.installed-dev ## the benchmarks in bench/
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean: ## remove the virtualenv and local data
	rm -rf $(VENV) instance .pytest_cache
