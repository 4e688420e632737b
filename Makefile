# Two entry points for a fresh machine (see README):
#   make demo   set up .venv and run the main job
#   make test   set up .venv and run the tests (what CI runs)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup demo test lint bench

setup: $(VENV)/.installed

# torch first, from the CPU build: a bare `torch` resolved by pip pulls a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

demo: setup
	HF_HUB_OFFLINE=1 $(BIN)/amif-match demo

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

test: lint
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

bench: setup
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench_embedding.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench_classify.py
