# mmvisrep developer entry points. `make demo` and `make test` install everything first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
TOY_ROOT ?= data/toy_scenes
PYTEST_ARGS ?=
# the toy benchmark (docs/toy_benchmark.md); `make demo` is its BYOL-vs-random-init core
BENCH_WORK ?= work_dirs/toy_benchmark
BENCH_DATA ?= data/toy_benchmark
DEMO_SEEDS ?= 0 1 2

.PHONY: install env-info toy-data demo demo-soco demo-svl toy-benchmark test lint format clean

install:
	bash tools/misc/install_env.sh

env-info: install
	$(PY) tools/misc/collect_env.py

toy-data: install
	@if [ -f $(TOY_ROOT)/annotations/instances_val2017.json ]; then \
	  echo "toy scenes already at $(TOY_ROOT)"; \
	else \
	  $(PY) tools/data/make_toy_scenes.py $(TOY_ROOT) --num-train 400 --num-val 100 \
	    --img-size 128 --seed 0; \
	fi

demo: install
	$(PY) tools/benchmarks/toy_benchmark.py --methods random byol \
	  --probes obj-linear@resnet obj-knn@resnet --seeds $(DEMO_SEEDS) \
	  --work-dir $(BENCH_WORK) --data-root $(BENCH_DATA) --docs-dir $(BENCH_WORK)/demo_docs

toy-benchmark: install
	$(PY) tools/benchmarks/toy_benchmark.py --work-dir $(BENCH_WORK) --data-root $(BENCH_DATA)

demo-soco: install toy-data
	PYTHON=$(PY) TOY_ROOT=$(TOY_ROOT) bash tools/run_demo.sh

demo-svl: install toy-data
	PYTHON=$(PY) TOY_ROOT=$(TOY_ROOT) bash tools/run_svl_demo.sh

test: install
	$(PY) -m pytest tests -q $(PYTEST_ARGS)

lint: install
	$(PY) -m flake8 mmvisrep tools tests configs
	$(PY) -m isort --check-only --diff mmvisrep tools tests
	$(PY) -m yapf --diff --recursive mmvisrep tools tests

format: install
	$(PY) -m isort mmvisrep tools tests
	$(PY) -m yapf --in-place --recursive mmvisrep tools tests

clean:
	rm -rf work_dirs build *.egg-info
