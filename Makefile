# Two commands on a fresh machine: `make report` and `make test`.
# Both create a virtual environment in .venv and install the project into it first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= all
STAMP := $(VENV)/.installed

.PHONY: install report test lint fixtures clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

## report: regenerate results/ (tables, figures, report.html) from data/ and config/
report: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)

## test: the test suite (the same command CI runs)
test: $(STAMP)
	$(BIN)/python -m pytest

## lint: Snakemake's linter
lint: $(STAMP)
	$(BIN)/snakemake --lint

## fixtures: regenerate the metafor reference values (needs Debian's r-base-core r-cran-metafor r-cran-metadat r-cran-jsonlite r-cran-lme4)
fixtures: $(STAMP)
	Rscript tests/reference/make_reference.R
	$(MAKE) report
	Rscript tests/reference/make_reference.R --analyses

clean:
	rm -rf results/tables results/analyses results/figures results/logs results/report.html .snakemake
