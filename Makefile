# Two commands on a fresh clone: `make run` serves the demo, `make test` runs everything.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: run test lint typecheck pytest messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps: reinstall only when the dependencies change.
$(VENV)/.run-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.test-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.run-deps

run: $(VENV)/.run-deps
	$(BIN)/contest demo
	$(BIN)/contest serve --host $(HOST) --port $(PORT)

test: lint typecheck pytest

lint: $(VENV)/.test-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.test-deps
	$(BIN)/mypy

# The suite runs on every core (pytest-xdist), a test file to a worker: the files that start
# servers or browsers keep them for their own tests. PYTEST_JOBS=0 runs it in one process.
# Tests marked `alone` restart a server the others share: they run afterwards, by themselves
# (pytest's status 5, "nothing selected", is fine there: on SQLite there are none).
# PYTEST_MARKS narrows both runs, e.g. PYTEST_MARKS='not browser'.
PYTEST_JOBS ?= auto
PYTEST_MARKS ?=
and_marks = $(if $(PYTEST_MARKS), and ($(PYTEST_MARKS)))
pytest: $(VENV)/.test-deps
	$(BIN)/python -m pytest -n $(PYTEST_JOBS) --dist loadfile -m "not alone$(and_marks)" $(PYTEST_ARGS)
	$(BIN)/python -m pytest -m "alone$(and_marks)" $(PYTEST_ARGS) || [ $$? -eq 5 ]

# Refresh the Vietnamese catalog after adding or changing user-facing text.
messages: $(VENV)/.test-deps
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k _ -k gettext -k ngettext:1,2 --no-location \
		--sort-output -o contest/locale/messages.pot .
	$(BIN)/pybabel update -i contest/locale/messages.pot -d contest/locale -D messages \
		--no-fuzzy-matching --width 100

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-artifacts
