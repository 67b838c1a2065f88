# One entry point for people and CI. `make run` and `make test` are the README's Quick start.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
GRPC ?= 127.0.0.1:50051

.PHONY: run test install install-test bench lint proto dev clean offline-bundle

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install -q .

install-test: $(BIN)/python
	$(BIN)/python -m pip install -q ".[test]"

## make run: create .venv, install, serve gRPC on the embedded default KB
run: install
	$(BIN)/fundguard serve --grpc $(GRPC)

## make test: create .venv, install with test extras, lint + type-check, run the whole suite
test: lint
	$(BIN)/python -m pytest -q

## make lint: ruff on the tree; mypy --strict on the fundguard namespace (a symlink tree under build/typecheck)
lint: install-test
	$(BIN)/ruff check agent adapters knowledge_base central installer bench tests scripts setup.py
	$(BIN)/python scripts/dev_tree.py build/typecheck --no-pth
	cd build/typecheck && ../../$(BIN)/mypy --config-file ../../pyproject.toml \
		-p fundguard.agent -p fundguard.adapters -p fundguard.knowledge_base -p fundguard.central -p fundguard.installer

## make offline-bundle: dist/fundguard-offline-*.tar.gz for an air-gapped server (wheelhouse, installer, unit, config)
offline-bundle: install
	$(BIN)/fundguard-installer build --source . --out dist

## make bench: every measurement (bench/README.md) -> bench/results/latest.json + latest.png; BENCH_ARGS=--quick etc.
bench: install-test
	$(BIN)/python -m bench $(BENCH_ARGS)

## make dev: a second venv (.dev/venv) whose `fundguard` namespace points at this work tree (no reinstall needed)
dev:
	$(PY) -m venv .dev/venv
	.dev/venv/bin/python -m pip install -q --upgrade pip
	.dev/venv/bin/python -m pip install -q ".[test]" && .dev/venv/bin/python -m pip uninstall -q -y fundguard
	.dev/venv/bin/python scripts/dev_tree.py

clean:
	rm -rf $(VENV) .dev build dist *.egg-info
