# The two commands a newcomer needs: `make demo` and `make test`. Both install what they need.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
UV_QUIET ?= --quiet

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@echo "== installing starcast and its extras (Ray, scikit-learn, FastAPI, Celery...) into $(VENV); the first time takes a few minutes"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install $(UV_QUIET) --python $(BIN)/python -e '.[dev]'
	@echo "== byte-compiling $(VENV) once, so every process starts fast (about a minute)"
	@# Byte-compile once: with PYTHONDONTWRITEBYTECODE set, every process would recompile Ray & co.
	@# Some packages ship test files that never compile; those make compileall exit 1, harmlessly.
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib > /dev/null || true
	touch $@

.PHONY: venv
venv: $(STAMP) ## Create .venv with starcast and its dev tools

.PHONY: system-deps
system-deps: ## Install the Debian packages the tests run for real (rabbitmq-server)
	@hack/install-system-deps.sh

.PHONY: kube-plane
kube-plane: ## Build (once, cached) the local Kubernetes control plane and its addons (KubeRay...)
	hack/kube-plane.sh build
	hack/kube-addons.sh build

.PHONY: lint
lint: venv ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

.PHONY: test
test: venv system-deps kube-plane lint ## Run every test (installs what they need)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pytest $(PYTEST_ARGS)

.PHONY: demo
demo: UV_QUIET := # the demo's first install shows what it resolves, downloads and installs
demo: venv system-deps ## Train on the bundled sample and serve predictions (Ctrl-C stops)
	$(BIN)/starcast up

.PHONY: bench
bench: venv system-deps ## Run every benchmark in quick mode
	@# bench/sklearn_train.py is the training bench's baseline script, not a bench.
	for script in $(filter-out bench/__init__.py bench/sklearn_train.py,$(wildcard bench/*.py)); do \
		$(BIN)/python "$$script" --quick; done

.PHONY: clean
clean: ## Remove the venv and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
