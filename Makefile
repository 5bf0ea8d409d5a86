# One entry point for every task. Each target creates what it needs on a fresh machine.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml sandbox/pyproject.toml requirements-dev.txt | sha1sum | cut -c1-12)

.PHONY: venv system-deps sandbox test check lint format typecheck contracts manifests bench clean

$(STAMP): pyproject.toml sandbox/pyproject.toml requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	# The product (`deckhand`) and, separately, its stand-ins (`deckhand-sandbox`).
	$(PY) -m pip install -q --no-deps -e . -e ./sandbox
	rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

# apt packages the tests use (registry, skopeo, htpasswd, kubectl); no-op when present.
system-deps:
	bash scripts/system-deps.sh

# Quick start 1: Deckhand on the embedded sandbox.
sandbox: venv
	$(VENV)/bin/deckhand sandbox

# Quick start 2: the tests.
test: venv system-deps
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

typecheck: venv
	$(VENV)/bin/mypy

contracts: venv
	$(VENV)/bin/lint-imports

manifests: venv
	VENV=$(VENV) bash scripts/check-manifests.sh

# Every check CI runs, in one command.
check: lint typecheck contracts manifests test

bench: venv system-deps
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
