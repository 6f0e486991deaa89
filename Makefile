# The two commands a newcomer needs: `make demo` and `make test`.
# Both create .venv on first use and are quick when nothing changed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

PORT ?= 8600

.PHONY: demo demo-port test check lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The real helm, for the Helm rendering tests (Conveyor uses the helm next to its executable, else on PATH).
$(BIN)/helm: tools/install_helm.py | $(STAMP)
	$(BIN)/python tools/install_helm.py $@

# The demo app's pinned wheels: the tests that build it as an artifact install from here,
# offline (tests/conftest.py sets PIP_NO_INDEX), so that no test reaches a package index.
WHEELHOUSE := $(VENV)/wheelhouse
DEMO_REQUIREMENTS := src/conveyor/cli/demo_sources/demo-app/requirements.txt
$(WHEELHOUSE)/.complete: $(DEMO_REQUIREMENTS) | $(STAMP)
	$(BIN)/python -m pip download --quiet --only-binary=:all: --dest $(WHEELHOUSE) \
		-r $(DEMO_REQUIREMENTS)
	touch $@

# `make demo PORT=8601`: the port is checked first, so a taken one fails before any build.
demo-port:
	$(PYTHON) tools/check_port.py '$(PORT)'

demo: demo-port
	$(MAKE) --no-print-directory $(STAMP)
	$(BIN)/conveyor demo --port '$(PORT)'

test: $(STAMP) $(BIN)/helm $(WHEELHOUSE)/.complete
	$(BIN)/python -m pytest -q

# Quick feedback while working: the lint steps, then every test that starts no process and
# binds no port (tests/conftest.py marks the others `processes`). Under a minute on 2 cores.
check: lint
	$(BIN)/python -m pytest -q -m "not processes"

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
