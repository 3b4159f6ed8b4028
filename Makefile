# seqrisk: the two commands a newcomer runs are `make demo` and `make test`.
# Both set everything up on a fresh machine (Python venv, pinned packages, the
# test node from the npm registry, Debian's chromium for the browser test) and
# are idempotent: a second run only does what changed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
# The oldest supported versions of seqrisk's dependencies (pandas 2.2, numpy 2.0 ...): a second venv, built once.
OLD_VENV  := .venv-oldest
OLD_STAMP := $(OLD_VENV)/.installed
NODE_STAMP := node_modules/.installed
CHROMIUM ?= /usr/bin/chromium
PYTEST_ARGS ?=
# The suite runs in two processes, whole test files to each (most of its time is real nodes, servers and browsers
# waiting, and the machine CI gives us has two cores); PYTEST_JOBS=0 runs it in one process.
PYTEST_JOBS ?= 2

.PHONY: demo test test-oldest lint typecheck bench docs setup browser clean help

help:
	@echo "make demo   - run seqrisk on the bundled example book (sets everything up)"
	@echo "make test   - run the whole test suite (sets everything up)"
	@echo "make bench  - run the benchmarks, results in benchmarks/results/"
	@echo "make docs   - build the documentation site into site/ (offline; open site/index.html)"

# The package alone (what `make demo` needs) and the package with the development extras (what `make test` needs).
$(RUN_STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e .
	@touch $@

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@ $(RUN_STAMP)

# seqrisk installed beside the oldest versions pyproject.toml allows (and lifelines, which needs pandas<3).
$(OLD_STAMP): pyproject.toml constraints-oldest.txt
	@test -x $(OLD_VENV)/bin/python || $(PYTHON) -m venv $(OLD_VENV)
	$(OLD_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c constraints-oldest.txt \
	  -e '.[test,crosscheck]'
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

# Debian's chromium for the browser test (root on the machines here; no browser download).
browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi; }

setup: $(STAMP) $(OLD_STAMP) $(NODE_STAMP) browser

# The main job: a risk report on the bundled derivatives-desk book.
demo: $(RUN_STAMP)
	$(BIN)/seqrisk report examples/desk.yaml --config examples/scenario.yaml --out report.html --horizon 1y \
	    --paths 20000 --seed 0
	@echo "open $(CURDIR)/report.html in a browser (it works offline)"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/mypy

test: setup lint
	PATH="$(CURDIR)/node_modules/.bin:$$PATH" SEQRISK_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest \
	    -n $(PYTEST_JOBS) --dist loadfile $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-oldest

# The smoke tier (tests marked `oldest`) in the oldest supported environment.
test-oldest: $(OLD_STAMP)
	$(OLD_VENV)/bin/python -m pytest -m oldest -p no:cacheprovider -q $(PYTEST_ARGS)

# The documentation site (mkdocs.yml): guides, methods and the API reference, built strict (broken links fail).
docs: $(STAMP)
	$(BIN)/python -m mkdocs build --strict --site-dir site
	@echo "open $(CURDIR)/site/index.html in a browser (it works offline)"

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) $(OLD_VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
