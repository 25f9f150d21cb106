# Vigie — the two commands of a fresh machine are `make demo` and `make test`.
# Each creates the virtual environment (.venv) and installs what it needs.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: demo test lint install clean benchmark

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

## Run a whole night on a synthetic portfolio in ./var (database, MLflow, feeds, e-mails, report).
demo: $(STAMP)
	$(BIN)/vigie demo $(ARGS)

## Run the test suite on SQLite and on a local PostgreSQL server (both installed if missing),
## with browser tests in headless Chromium, then the linters.
test: $(STAMP)
	bash .ci/system-deps
	eval "$$(bash .ci/start-postgres)" && $(BIN)/pytest -n 2 --timeout 600 $(PYTEST_ARGS)
	$(MAKE) lint

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy config models feeds scoring arbitration jobs

benchmark: $(STAMP)
	$(BIN)/python benchmarks/run.py $(ARGS)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
