# Each target sets up .venv itself, so a fresh clone needs only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-test
BASE := $(VENV)/.installed

.PHONY: demo test lint bench reliability clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(BASE): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $(BASE)

# The whole cycle against a simulated Amazon on loopback (3 POs over AS2, 997s, 855/856/810
# back, Amazon's checks and 997s); leaves demo/ (acorn.toml, acorn.db) to explore.
demo: $(BASE)
	$(BIN)/acorn demo --dir demo

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check gateway tests bench
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m bench

# The reliability battery T1..T14 of ../shared/reliability.md at full scale, on SQLite and
# PostgreSQL (every test marked battery; `make test` runs the same tests at the CI scale);
# writes reliability-report.md from the figures each test records (tests/reliability/).
reliability: $(STAMP)
	rm -f .reliability.jsonl
	start=$$(date +%s); \
	ACORN_BATTERY_SCALE=full ACORN_BATTERY_REPORT=$(CURDIR)/.reliability.jsonl \
	  $(BIN)/python -m pytest -m battery -p no:cacheprovider; status=$$?; \
	$(BIN)/python -m tests.reliability.report .reliability.jsonl reliability-report.md \
	  --seconds $$(( $$(date +%s) - start )) || status=1; \
	exit $$status

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis demo .reliability.jsonl
