# Two entry points: `make demo` and `make test`. Both build .venv from scratch when needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
TORCH_PIN := torch==2.13.0

.PHONY: venv demo test lint clean bench

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first: a bare `torch` requirement could pull a multi-GB CUDA build
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q $(TORCH_PIN)
	$(PIP) install -q -e ".[test]"
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

test: $(STAMP) lint
	$(VENV)/bin/pytest

demo: $(STAMP)
	$(VENV)/bin/advrecon demo

bench: $(STAMP)
	$(PY) benchmarks/models.py --quick
	$(PY) benchmarks/attacks.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info runs demo_out
