# The two commands a newcomer needs: `make demo` and `make test`. Both install what they need.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The demo's own venv: what `starcast up` runs (serving, training), none of the test tools.
DEMO_VENV ?= .venv-demo
DEMO_BIN := $(DEMO_VENV)/bin
DEMO_STAMP := $(DEMO_VENV)/.installed
DEMO_EXTRAS := serving,training
PYTEST_ARGS ?=
UV_QUIET ?= --quiet

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@echo "== installing starcast, its extras and the test tools into $(VENV); the first time takes a few minutes"
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
lint: venv ## ruff, mypy, the import layers (.importlinter), dead code (vulture)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/vulture

.PHONY: test
test: venv system-deps kube-plane lint ## Run every test (installs what they need)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pytest $(PYTEST_ARGS)

$(DEMO_STAMP): pyproject.toml
	@echo "== installing starcast with what the demo runs (.[$(DEMO_EXTRAS)]: FastAPI, Celery, scikit-learn...; no test tools) into $(DEMO_VENV)"
	@PYTHON=$(PYTHON) hack/prerequisites.sh install
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_BIN)/pip install --quiet --disable-pip-version-check uv
	@# uv's own progress is shown: what it resolves, downloads and installs.
	$(DEMO_BIN)/uv pip install --python $(DEMO_BIN)/python -e '.[$(DEMO_EXTRAS)]'
	touch $@

.PHONY: demo
demo: $(DEMO_STAMP) system-deps ## Train on the bundled sample and serve predictions (Ctrl-C stops)
	@# Nothing is byte-compiled up front: each module is compiled when a process of the demo
	@# first imports it, and its .pyc is kept (PYTHONDONTWRITEBYTECODE, which would make every
	@# process compile again, is lifted for the demo alone). So the first run compiles only
	@# what starts, and later runs compile nothing.
	env -u PYTHONDONTWRITEBYTECODE $(DEMO_BIN)/starcast up

.PHONY: bench
bench: venv system-deps ## Run every benchmark in quick mode
	@# bench/sklearn_train.py is the training bench's baseline script, bench/_*.py are parts of
	@# benches (their shared harness, a bench's pieces): neither is a bench.
	for name in $(basename $(notdir $(filter-out bench/_%.py bench/sklearn_train.py,$(wildcard bench/*.py)))); do \
		$(BIN)/python -m "bench.$$name" --quick || exit 1; done

.PHONY: clean
clean: ## Remove the venvs and caches
	rm -rf $(VENV) $(DEMO_VENV) .mypy_cache .ruff_cache .pytest_cache
