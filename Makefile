# `make demo` and `make test` work on a fresh clone: they create .venv and install everything.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test lint format clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,test]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/distributor --config examples/demo.yaml run --once --dry-run

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check distributor tests bench
	$(BIN)/mypy distributor

format: $(STAMP)
	$(BIN)/ruff check --fix distributor tests

clean:
	rm -rf outbox examples/demo.db* .pytest_cache .mypy_cache .ruff_cache
