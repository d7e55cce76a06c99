# Two commands on a fresh machine: `make demo` and `make test`. Everything else is set up by them.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv
BIN := $(VENV)/bin
DATASETS ?= data/samples
export GUANXI_HOME ?= $(CURDIR)/var
export GUANXI_MODELS_DIR ?= $(CURDIR)/models

.PHONY: setup demo test test-fast lint bench clean

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install -q "uv==$(UV_VERSION)"

# the demo needs the service only; the tests also need the Spark and dev extras
$(VENV)/.base: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --inexact
	@touch $@

$(VENV)/.all: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --all-extras
	@touch $@ $(VENV)/.base

setup: $(VENV)/.all

demo: $(VENV)/.base
	@echo "== the real sample exports, into their own store ($(GUANXI_HOME)/real.db)"
	GUANXI_DATABASE_URL=sqlite:///$(GUANXI_HOME)/real.db $(BIN)/guanxi import --source maven-crm $(DATASETS)/maven-crm
	GUANXI_DATABASE_URL=sqlite:///$(GUANXI_HOME)/real.db $(BIN)/guanxi import --source email \
		$(DATASETS)/radoslaw-email/radoslaw_email.tsv
	@echo "== the simulated demo world (seed 7), into the default store ($(GUANXI_HOME)/guanxi.db)"
	$(BIN)/guanxi simulate --size demo --seed 7
	$(BIN)/guanxi db stats
	@echo "== train the relationship and deal models (MLflow under $(GUANXI_HOME)), export the champions"
	$(BIN)/guanxi train all
	$(BIN)/guanxi models
	@echo "== one rep's next-best actions, then the API on 127.0.0.1:8000 (Ctrl-C to stop)"
	$(BIN)/guanxi recommend --rep R0003 --k 3
	@echo "== where everything went:"
	@echo "   store (simulated world)  $(GUANXI_HOME)/guanxi.db"
	@echo "   store (sample exports)   $(GUANXI_HOME)/real.db"
	@echo "   MLflow runs and registry $(GUANXI_HOME)/mlflow.db, $(GUANXI_HOME)/mlartifacts  (.venv/bin/mlflow ui --backend-store-uri sqlite:///$(GUANXI_HOME)/mlflow.db)"
	@echo "   champion bundles         $${GUANXI_MODELS_DIR:-$(CURDIR)/models}"
	@echo "   the API and the pages    http://127.0.0.1:8000/docs  and  http://127.0.0.1:8000/"
	@echo "try:  curl -s 'http://127.0.0.1:8000/v1/reps/R0003/next-best-actions?limit=3&lang=zh'"
	$(BIN)/guanxi serve --host 127.0.0.1 --port 8000

test: lint
	scripts/ensure-java.sh
	scripts/ensure-browser.sh
	@set -e; url=$$(scripts/pg-test-server.sh start); trap 'scripts/pg-test-server.sh stop' EXIT; \
	GUANXI_TEST_PG_URL=$$url $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

# the quick loop: code and store tests, no servers, no Spark, no model training (see `fast` in pyproject.toml)
test-fast: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -m "not postgres and not spark and not slow" $(PYTEST_ARGS)

bench: setup
	$(BIN)/python benchmarks/import.py
	$(BIN)/python benchmarks/simulate.py
	$(BIN)/python benchmarks/features.py
	$(BIN)/python benchmarks/models.py
	$(BIN)/python benchmarks/batch.py

clean:
	rm -rf var .pytest_cache
