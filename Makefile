# grid-saliency-tf developer commands. `make test` and `make demo` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat setup.py | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=
# Two test processes: on 2 cores much of a test is single-threaded Python (tracing, file work).
PYTEST_WORKERS ?= 2

# oneDNN for the demo: on unless the environment or the command line sets it (`make demo TF_ENABLE_ONEDNN_OPTS=0`
# off; empty: TensorFlow's choice by the CPU). TensorFlow leaves it off on Linux x86 CPUs without VNNI, AVX-512
# BF16 or AMX, where it trains the demo's networks about 1.6x as fast (BENCHMARKS.md); it changes their last bits, and
# the report says which was used.
TF_ENABLE_ONEDNN_OPTS ?= 1

.PHONY: venv test test-slow demo bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) setup.py
	$(PY) -m pip install --quiet -e ".[test,viz]"
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -m "not slow" -n $(PYTEST_WORKERS) $(PYTEST_ARGS) tests

test-slow: $(STAMP)
	$(PY) -m pytest -q -m "slow" $(PYTEST_ARGS) tests

demo: $(STAMP)
	TF_ENABLE_ONEDNN_OPTS=$(TF_ENABLE_ONEDNN_OPTS) $(PY) -m toy_benchmark.sweep_main --profile=quick --runs_dir=demo_output/runs --report_dir=demo_output/report
	@echo "Report: demo_output/report/report.md"

bench: $(STAMP)
	$(PY) benchmarks/bench_engine.py
	$(PY) benchmarks/bench_toy_dataset.py
	$(PY) benchmarks/bench_deeplab_wrapper.py

clean:
	rm -rf $(VENV) build *.egg-info
