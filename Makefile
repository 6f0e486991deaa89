# The two commands a newcomer needs: `make demo` and `make test`.
# Both create .venv on first use and are quick when nothing changed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

PORT ?= 8600

.PHONY: demo demo-port test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The real helm, for the Helm rendering tests (Conveyor uses the helm next to its executable, else on PATH).
$(BIN)/helm: tools/install_helm.py | $(STAMP)
	$(BIN)/python tools/install_helm.py $@

# `make demo PORT=8601`: the port is checked first, so a taken one fails before any build.
demo-port:
	$(PYTHON) tools/check_port.py '$(PORT)'

demo: demo-port
	$(MAKE) --no-print-directory $(STAMP)
	$(BIN)/conveyor demo --port '$(PORT)'

test: $(STAMP) $(BIN)/helm
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python bench/runtime.py
	$(BIN)/python bench/reconcile.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
