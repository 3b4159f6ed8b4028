# seqrisk: the two commands a newcomer runs are `make demo` and `make test`.
# Both set everything up on a fresh machine (Python venv, pinned packages, the
# test node from the npm registry, Debian's chromium for the browser test) and
# are idempotent: a second run only does what changed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
CHROMIUM ?= /usr/bin/chromium
PYTEST_ARGS ?=

.PHONY: demo test lint typecheck bench setup browser clean help

help:
	@echo "make demo   - run seqrisk on the bundled example book (sets everything up)"
	@echo "make test   - run the whole test suite (sets everything up)"
	@echo "make bench  - run the benchmarks, results in benchmarks/results/"

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

# Debian's chromium for the browser test (root on the machines here; no browser download).
browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi; }

setup: $(STAMP) $(NODE_STAMP) browser

# The main job: a risk report on the bundled derivatives-desk book.
demo: $(STAMP)
	$(BIN)/seqrisk report examples/desk.yaml --out report.html --horizon 1y --paths 20000 --seed 0
	@echo "open $(CURDIR)/report.html in a browser (it works offline)"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/mypy

test: setup lint
	PATH="$(CURDIR)/node_modules/.bin:$$PATH" SEQRISK_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
