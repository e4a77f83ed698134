# Two commands matter: `make demo` (the main job) and `make test` (everything CI checks).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS := databricks,amazon,demo,test,dev,docs,deployment,ops

.PHONY: install demo test lint typecheck unit docs bench clean ui-bundle ui-bundle-check

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade uv
	# Bytecode up front: every Airflow process the tests start (deployment components, task runners, CLI)
	# would otherwise recompile Airflow when PYTHONDONTWRITEBYTECODE is set (3.4 s -> 1.6 s per import).
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -c constraints.txt -e ".[$(EXTRAS)]"
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/airflow-resumable demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/python -m pytest -q

docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# The dashboard card (ui-src/) is committed built; esbuild's version is pinned by ui-src/package-lock.json.
UI_BUNDLE := src/airflow_resumable/ui/static/dashboard.js

ui-bundle:
	cd ui-src && npm ci --no-audit --no-fund --loglevel=error && node build.mjs

ui-bundle-check:
	@out=$$(mktemp -d) && trap 'rm -rf "$$out"' EXIT && \
	(cd ui-src && npm ci --no-audit --no-fund --loglevel=error && node build.mjs "$$out") && \
	if cmp -s "$$out/dashboard.js" $(UI_BUNDLE); then echo "ui-bundle-check: $(UI_BUNDLE) matches ui-src/"; \
	else echo "ui-bundle-check: $(UI_BUNDLE) does not match ui-src/: run 'make ui-bundle' and commit it" >&2; exit 1; fi

test: lint typecheck ui-bundle-check unit docs

bench: install
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) site .pytest_cache .mypy_cache .ruff_cache
