# xacthuc: `make run` serves, `make test` tests. Both install what they need on first use.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: run test unit lint bench install contracts clean

install: $(STAMP) $(NODE_STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

run: install
	$(BIN)/xacthuc serve --dev

test: install
	bash scripts/test.sh

unit: install
	$(BIN)/pytest -m "not anvil and not postgres and not browser" -x

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install
	bash scripts/bench.sh $(ARGS)

contracts: install
	node contracts/build.mjs

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache .pytest_cache
