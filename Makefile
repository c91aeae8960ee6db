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
	@PYTHON=$(PYTHON) hack/prerequisites.sh install
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install $(UV_QUIET) --python $(BIN)/python -e '.[dev]'
	@echo "== byte-compiling $(VENV) once, so every process starts fast (a few minutes on 2 cores)"
	@# Byte-compile once: with PYTHONDONTWRITEBYTECODE set, every process would recompile Ray & co.
	@# Some packages ship test files that never compile; those make compileall exit 1, harmlessly.
	@# One line per 5,000 files compiled, so a long compile is visibly moving (unbuffered: the
	@# pool processes of -j would otherwise lose lines they never flushed).
	PYTHONUNBUFFERED=1 $(BIN)/python -m compileall -j 0 $(VENV)/lib 2>/dev/null \
	    | awk '/^Compiling/ && ++n % 5000 == 0 { print "   " n " files compiled"; fflush() } END { print "   " n+0 " files compiled" }' \
	    || true
	touch $@

.PHONY: venv
venv: $(STAMP) ## Create .venv with starcast and its dev tools

.PHONY: prerequisites
prerequisites: ## Check what this machine lacks for demo and test, and what make installs
	@PYTHON=$(PYTHON) hack/prerequisites.sh check

.PHONY: system-deps
system-deps: ## Install the Debian packages the tests run for real (rabbitmq-server)
	@hack/install-system-deps.sh

.PHONY: kube-plane
kube-plane: ## Build (once, cached) the local Kubernetes control plane and its addons (KubeRay...)
	hack/kube-plane.sh build
	hack/kube-addons.sh build

.PHONY: images
images: system-deps ## Build (cached) the images of images/*/Dockerfile and the test RabbitMQ, with buildah
	hack/images.sh build

.PHONY: lint
lint: venv ## ruff, mypy, and the import layers (.importlinter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

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
	for name in $(basename $(notdir $(filter-out bench/__init__.py bench/sklearn_train.py,$(wildcard bench/*.py)))); do \
		$(BIN)/python -m "bench.$$name" --quick || exit 1; done

.PHONY: clean
clean: ## Remove the venv and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
