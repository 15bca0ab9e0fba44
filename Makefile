# Two commands for a newcomer: `make run` and `make test`. Everything installs into .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: help install run test lint format check migrate demo clean screenshots

help:
	@echo "make run    install, migrate, load demo data, start web + Celery worker + beat"
	@echo "make test   the whole test suite (uses DATABASE_URL / REDIS_URL when set)"
	@echo "make lint   ruff, Django's checks and the migrations check"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-install only when requirements.txt changes.
$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	@mkdir -p var
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py load_content
	$(BIN)/python manage.py seed_demo --base-url http://$(HOST):$(PORT)

run: demo
	@echo
	@echo "  Alongside is starting (Ctrl-C stops web, worker and beat together):"
	@echo "    Home           http://$(HOST):$(PORT)/"
	@echo "    Staff portal   http://$(HOST):$(PORT)/staff/   (demo login above)"
	@echo "    Sign up        http://$(HOST):$(PORT)/join/    (enrollment code above)"
	@echo "    Admin          http://$(HOST):$(PORT)/admin/"
	@echo "    Health         http://$(HOST):$(PORT)/healthz"
	@echo "    API docs       http://$(HOST):$(PORT)/api/docs/   (demo API key above)"
	@echo
	HOST=$(HOST) PORT=$(PORT) PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile

test: install
	@mkdir -p var
	$(BIN)/pytest $(PYTEST_ARGS)

# Re-take docs/screenshots/*.png from the browser tests (needs Debian's chromium).
screenshots: install
	@mkdir -p var docs/screenshots
	SCREENSHOTS_DIR=docs/screenshots $(BIN)/pytest tests/browser -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py check
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py makemigrations --check --dry-run

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var .pytest_cache .ruff_cache
