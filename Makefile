# ptaudit: every target creates .venv with the pinned dependencies on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

CLAIMS ?= data/sample/claims.csv
TIMELOGS ?= data/sample/timelogs.csv
OUT ?= out
DB ?= $(OUT)/ptaudit.duckdb
CONFIG ?=
CONFIG_ARG := $(if $(CONFIG),--config $(CONFIG),)

.PHONY: venv browser audit test lint sample clean

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --requirement requirements.lock
	touch $(STAMP)

audit: $(STAMP)
	$(PY) -m pipeline audit --claims $(CLAIMS) --timelogs $(TIMELOGS) --out $(OUT) --db $(DB) $(CONFIG_ARG)

test: $(STAMP) browser
	$(PY) -m pytest

# The report is checked in a real headless Chromium (Debian's package). Where it cannot
# be installed (no apt-get, not root) that one test is skipped and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		command -v apt-get >/dev/null 2>&1 && \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	} || echo "make: Chromium could not be installed; the browser test will be skipped"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Rebuild the bundled sample exports and their planted-problem key from the generator.
sample: $(STAMP)
	$(PY) -m bench.synth --profile sample --out data/sample

# Time the whole audit against a bare DuckDB load of the same files, on generated
# exports (kept in bench/data/, made on first use); writes bench/RESULTS.md.
# make bench SIZES="100k 1m" FORMATS=parquet REPEAT=1 (10M runs REPEAT_LARGE times, minutes each)
# make bench SIZES="100k 1m" FORMATS=837p RESULTS=bench/RESULTS-837p.md (claims as X12 837P)
# FORMATS=night: the last days of the CSV exports audited on a store holding the rest
SIZES ?= 100k 1m 10m
FORMATS ?= csv parquet night
REPEAT ?= 3
REPEAT_LARGE ?= 1
RESULTS ?= bench/RESULTS.md
.PHONY: bench
bench: $(STAMP)
	$(PY) -m bench.run --sizes $(SIZES) --formats $(FORMATS) --repeat $(REPEAT) --repeat-large $(REPEAT_LARGE) --results $(RESULTS)

clean:
	rm -rf $(OUT) .pytest_cache .ruff_cache
