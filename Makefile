# nncompress — `make help` lists the targets. Every target sets up .venv first if needed.
PYTHON ?= python3
VENV   ?= .venv
# A matched torch/torchvision pair, installed before the project so that pip never resolves an
# unpinned torch (GBs of CUDA wheels); any matched pair with torch >= 2.3 works: make test TORCH="torch==2.5.1 torchvision==0.20.1"
TORCH  ?= torch==2.14.1 torchvision==0.29.1
PY     := $(VENV)/bin/python
# This machine's pip config lists local index folders that mostly do not exist; pip warns once per
# package ("Location ... is ignored"). Only those lines are dropped; pipefail keeps pip's exit status.
SHELL  := bash
PIP    := set -o pipefail; $(PY) -m pip
QUIET_PIP := 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
# The shared data folder beside the repo, unless NNCOMPRESS_DATA says otherwise.
export NNCOMPRESS_DATA ?= $(abspath $(CURDIR)/../shared/data)

.DEFAULT_GOAL := help
.PHONY: help setup run test test-durations test-fast test-full bench lint clean paper-suite slurm-plan paper-suite-slurm

help:  ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip $(QUIET_PIP)
	@# torch + torchvision first, and only when the pair is not importable; the project's install
	@# is then constrained to the installed pair, so no dependency can move torch.
	$(PY) -c "import torch, torchvision" 2>/dev/null || { $(PIP) install -q $(TORCH) $(QUIET_PIP); }
	@# public versions only: pip cannot combine a local label (2.14.1+cu130) with a machine's own cap
	$(PY) -c "import torch, torchvision; v = lambda m: m.__version__.split('+')[0]; \
	print(f'torch=={v(torch)}\ntorchvision=={v(torchvision)}')" > $(VENV)/torch-pin.txt
	$(PIP) install -q -c $(VENV)/torch-pin.txt -e ".[dev,sweeps]" $(QUIET_PIP)
	touch $@

setup: $(VENV)/.installed  ## create .venv and install torch + the project

# The demo is Table 1's quick block-30 run with 1 fine-tuning step between blocks instead of 3:
# 5 min 57 s here on a cold kernel cache (3,000 training steps 184 s, coding 137 s of which the
# kernel build 23 s, decoding 12 s), ~2 min less than
# with 3 (coding the same trained posterior: 1.74 % after coding with 1 step, 1.56 % with 2, 1.42 %
# with 3; experiments/README.md, Table 1).
run: setup  ## quick end-to-end demo: Mean-KL on MNIST, code into model.mrc, decode it again
	$(PY) run.py method=meankl block=30 scale=quick coding.finetune_steps=1 hydra.run.dir=outputs/demo/meankl_b30
	$(PY) run.py task=decode file=outputs/demo/meankl_b30/model.mrc hydra.run.dir=outputs/demo/decode
	@$(PY) -c "import json; r = json.load(open('outputs/demo/meankl_b30/results.json')); \
	print(f\"test error {r['test_error_uncompressed']:.2f} % before coding, {r['test_error_compressed']:.2f} % after; \
	{r['compressed_bytes']} bytes ({r['ratio_file']:.0f}x by file, {r['ratio_paper']:.0f}x paper accounting)\")"

# Test workers (pytest-xdist, one file per worker at a time so a file's fixtures are built once):
# as many as cores, at most 4; each worker gets cores / WORKERS torch threads (tests/conftest.py).
# Files start longest first (tests/durations.json; xdist keeps that order with --no-loadscope-reorder).
WORKERS ?= $(shell $(PYTHON) -c "import os; print(max(1, min(4, len(os.sched_getaffinity(0)))))")
XDIST   := -n $(WORKERS) --dist loadfile --no-loadscope-reorder
# --write-durations=PATH with '=': given apart, an existing PATH is taken for a test path and pytest
# starts from it instead of tests/, whose conftest defines the option (a second make test failed).
test: setup  ## the test suite (includes the slow end-to-end tests; CI runs this)
	$(PY) -m pytest -q $(XDIST) --durations=15 --write-durations=.test-durations.json

test-durations: test  ## the test suite, then its files' seconds become tests/durations.json (the order make test runs them in)
	cp .test-durations.json tests/durations.json

test-fast: setup  ## the test suite without the slow end-to-end tests
	$(PY) -m pytest -q $(XDIST) -m "not slow and not heavy"

test-full: setup  ## everything: the heavy full-size model tests too, GPU tests where a GPU exists
	$(PY) -m pytest -q -rs -m "heavy or not heavy" --durations=15

bench: setup  ## benchmarks -> bench/results.json
	$(PY) -m nncompress.bench --out bench/results.json

# The paper-scale suite: Tables 1 (paper 000) and 2 (paper 001) on one GPU, JOBS jobs at a time
# (joblib), baselines trained first so that parallel jobs do not race for them, then the reports.
JOBS  ?= 8
SCALE ?= paper
SUITE ?= multirun/paper_suite
PARALLEL = hydra/launcher=joblib hydra.launcher.n_jobs=$(JOBS) scale=$(SCALE)
paper-suite: setup  ## Tables 1 and 2 at paper scale, JOBS=8 at once on one GPU, then their reports
	$(PY) run.py -m task=pretrain dataset=mnist model=lenet300_100,lenet5_unhashed seed=0 $(PARALLEL) \
		hydra.sweep.dir=$(SUITE)/pretrain
	$(PY) run.py -m experiment=ibc_table2 $(PARALLEL) hydra.sweep.dir=$(SUITE)/ibc_table2 $(ARGS)
	$(PY) run.py -m experiment=mkl_table1 $(PARALLEL) hydra.sweep.dir=$(SUITE)/mkl_table1 $(ARGS)
	$(PY) -m nncompress.report $(SUITE)/ibc_table2
	$(PY) -m nncompress.report $(SUITE)/mkl_table1

slurm-plan: setup  ## every recipe's SLURM job: GPUs, nodes, hours, and the command that submits it
	$(PY) -m nncompress.tasks.slurm

paper-suite-slurm: setup  ## Tables 1 and 2 at paper scale on SLURM (one job per run, DDP inside; ARGS: partition, account)
	$(PY) run.py $$($(PY) -c "from nncompress.tasks.slurm import PLAN; print(' '.join(PLAN['ibc_table2'].overrides('ibc_table2')))") $(ARGS)
	$(PY) run.py $$($(PY) -c "from nncompress.tasks.slurm import PLAN; print(' '.join(PLAN['mkl_table1'].overrides('mkl_table1')))") $(ARGS)

lint: setup  ## ruff (style, imports) and import-linter (the layers of DESIGN.md)
	$(PY) -m ruff check src tests run.py
	$(VENV)/bin/lint-imports

clean:  ## remove outputs and caches (keeps .venv)
	rm -rf outputs multirun lightning_logs .pytest_cache bench/*.json
	find . -name __pycache__ -prune -exec rm -rf {} +
