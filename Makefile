# 通办 Tongban — `make demo` runs the region, `make test` runs every test.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-sqlite test-postgres install lint format bench browser-deps clean

$(STAMP): pyproject.toml requirements.lock scripts/install.sh
	scripts/install.sh
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/tongban demo

test: $(STAMP)
	scripts/browser-deps.sh
	scripts/test.sh

test-sqlite: $(STAMP)
	TONGBAN_TEST_DATABASES=sqlite scripts/test.sh

test-postgres: $(STAMP)
	TONGBAN_TEST_DATABASES=postgres scripts/test.sh

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

clean:
	rm -rf var .venv
