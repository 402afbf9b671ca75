# Two commands on a fresh machine: `make report` and `make test`.
# Both create a virtual environment in .venv and install the project into it first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= all
STAMP := $(VENV)/.installed

.PHONY: install release report test test-browser test-cluster bench-cluster lint fixtures clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

## report: regenerate the default plan (config/config.yaml) in results/default/ (tables, figures,
## results/default/report.html) from data/ and config/; `make report CONFIG=other.yaml` runs another plan,
## read first by the workflow's own YAML loader (a missing file, broken YAML or YTE templating refused in
## one line per problem before Snakemake parses the file)
CONFIG ?=
report: $(STAMP)
ifeq ($(strip $(CONFIG)),)
	$(BIN)/snakemake --cores $(CORES)
else
	$(BIN)/python -m metapool.yamlfile "$(CONFIG)"
	$(BIN)/snakemake --cores $(CORES) --configfile "$(CONFIG)"
endif

## release: record a release of the evidence, releases/$(NAME).json (data checksums and rows, the config as run,
## every pooled and per-study number); DATE=YYYY-MM-DD (default today); an existing NAME is refused unless FORCE=1
NAME ?=
DATE ?=
FORCE ?=
release: $(STAMP)
	@echo "$(NAME)" | grep -Eq '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$$' && ! echo "$(NAME)" | grep -q '\.json$$' \
	  || { echo "make release: NAME='$(NAME)' is not a safe file name (letters, digits, . _ -; e.g. NAME=2026-12)"; exit 2; }
	@test ! -e "releases/$(NAME).json" -o "$(FORCE)" = 1 \
	  || { echo "make release: releases/$(NAME).json exists (FORCE=1 to overwrite)"; exit 2; }
	$(if $(filter 1,$(FORCE)),rm -f "releases/$(NAME).json")
	$(BIN)/snakemake --cores $(CORES) $(if $(CONFIG),--configfile "$(CONFIG)") \
	  --config release_name="$(NAME)" $(if $(DATE),release_date=$(DATE)) -- "releases/$(NAME).json"

## test: the test suite (the same command CI runs)
test: $(STAMP)
	$(BIN)/python -m pytest

## test-browser: open results/default/report.html in headless Chromium through Selenium (root when chromium or
## chromium-driver is missing: installs Debian's), no console errors, every figure shown, a full-page screenshot
## (pytest -m browser)
test-browser: $(STAMP)
	{ command -v chromium && command -v chromedriver; } >/dev/null 2>&1 || { export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y chromium chromium-driver || { apt-get update && apt-get install -y chromium chromium-driver; }; }
	METAPOOL_TEST_BROWSER=1 $(BIN)/python -m pytest -m browser

## test-cluster: the cluster test on a real single-node SLURM (root: installs Debian's munge and SLURM,
## starts the daemons with tests/cluster/slurm.sh, runs pytest -m cluster, stops the daemons it started)
SLURM_DIR ?= /tmp/metapool-slurm
test-cluster: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,cluster]"
	bash tests/cluster/slurm.sh install
	export METAPOOL_SLURM_DIR=$(SLURM_DIR); \
	bash tests/cluster/slurm.sh start || exit 1; \
	SLURM_CONF=$(SLURM_DIR)/conf/slurm.conf METAPOOL_TEST_SLURM=1 $(BIN)/python -m pytest -m cluster; rc=$$?; \
	bash tests/cluster/slurm.sh stop; exit $$rc

## bench-cluster: wall time of the default workflow, local vs through SLURM (same setup as test-cluster)
bench-cluster: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,cluster]"
	bash tests/cluster/slurm.sh install
	METAPOOL_SLURM_DIR=$(SLURM_DIR) PYTHON=$(BIN)/python bash bench/cluster.sh

## lint: Snakemake's linter
lint: $(STAMP)
	$(BIN)/snakemake --lint

## fixtures: regenerate the metafor reference values (needs Debian's r-base-core r-cran-metafor r-cran-metadat r-cran-jsonlite r-cran-lme4)
fixtures: $(STAMP)
	Rscript tests/reference/make_reference.R
	$(MAKE) report
	Rscript tests/reference/make_reference.R --analyses

clean:
	rm -rf $(filter-out results/README.md,$(wildcard results/*)) .snakemake
