# 通办 Tongban — `make demo` runs the region, `make test` runs every test.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-sqlite test-postgres fuzz install lint format bench browser-deps clean

$(STAMP): pyproject.toml requirements.lock scripts/install.sh
	scripts/install.sh
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/tongban demo

test: $(STAMP)
	scripts/browser-deps.sh
	scripts/axe.sh
	scripts/test.sh

test-sqlite: $(STAMP)
	TONGBAN_TEST_DATABASES=sqlite scripts/test.sh

test-postgres: $(STAMP)
	TONGBAN_TEST_DATABASES=postgres scripts/test.sh

# the API fuzz test (part of `make test` with a few examples per operation), run longer;
# TONGBAN_FUZZ_EXAMPLES=200 make fuzz for more, DATABASE_URL/TONGBAN_TEST_POSTGRES_URL for PostgreSQL
fuzz: $(STAMP)
	PYTHONPATH=$$PWD TONGBAN_FUZZ_RANDOM=1 TONGBAN_FUZZ_EXAMPLES=$${TONGBAN_FUZZ_EXAMPLES:-60} $(PY) -m pytest -q -s -m fuzz tests/fuzz

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

format: $(STAMP)
	$(VENV)/bin/ruff format src tests bench
	$(VENV)/bin/ruff check --fix src tests bench

bench: $(STAMP)
	$(PY) bench/run_all.py

browser-deps:
	scripts/browser-deps.sh
	scripts/axe.sh

clean:
	rm -rf var .venv
