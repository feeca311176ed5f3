# The README's commands. Each target creates the environment from uv.lock when needed.
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: setup run test lint format dev bench clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# --compile-bytecode: every run, test worker and daemon-launched run is a new Python process;
# without .pyc files (PYTHONDONTWRITEBYTECODE, read-only images) each one would compile
# Dagster's sources again, about 4 s per process on two cores.
$(VENV)/.synced: uv.lock pyproject.toml Makefile | $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	touch $@

setup: $(VENV)/.synced

run: setup ## demo snapshots (if the default landing folder is empty), the whole pipeline, the monthly table
	$(BIN)/churn-pipeline run

test: setup lint ## the test suite (CI runs exactly this)
	$(BIN)/pytest -n 2 --dist loadfile

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup ## issue #9: backfill, nightly, the DuckDB floor and a pandas peer at 100,000 customers × 730 days
	$(BIN)/churn-pipeline bench --json data/bench/results.json

dev: setup ## the Dagster UI on the same warehouse and Dagster home
	$(BIN)/churn-pipeline dev

clean:
	rm -rf data .dagster
