# The README's two commands. Each sets up .venv (Python 3.11+) on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed  ## simulate an organisation's audit log, score it, show the alerts
	$(BIN)/detector demo

test: $(BIN)/.installed  ## lint and run every test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(BIN)/.installed  ## throughput and memory figures (prints, asserts nothing)
	$(BIN)/python bench/throughput.py

clean:
	rm -rf $(VENV) out models/state .pytest_cache .ruff_cache
