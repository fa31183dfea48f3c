# actlab: `make lab` opens the course, `make test` runs every test. Both set everything up first.
# While developing: `make test-fast` (the library's tests alone) and `make generate` (every generated notebook cell).
# `make help` lists every target.
# The Python that makes the venv: one of the versions pyproject.toml's requires-python admits (3.10 to 3.14), else
# make stops before any download and says how to pick one, e.g. make lab PYTHON=python3.12 (tools/check_python.py).
PYTHON ?= python3
REQUIRES_PYTHON := $(shell sed -n 's/^requires-python *= *"\(.*\)"/\1/p' pyproject.toml)
VENV ?= .venv
BIN := $(VENV)/bin
# Two installs: the course (make lab) and, on top of it, what the tests, the website and Dask sweeps need (make test).
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
# The PyTorch release installed and tested; pyproject.toml declares the range the code supports.
TORCH_VERSION ?= 2.13.0
# Where torch comes from (tools/torch_source.py): auto = a wheel already on this disk (no index asked), else the
# CPU build on Linux without an NVIDIA GPU, else the default index. Or cpu, cuda (PyPI's CUDA build), local.
TORCH ?= auto
# Extra pip options for every install, e.g. PIP_FLAGS="--index-url https://mirror.example/simple". An index named
# here (or in PIP_INDEX_URL / PIP_EXTRA_INDEX_URL) is honoured by the torch step too.
PIP_FLAGS ?=
# What make test (and site, strip) add to the course: test tools, the website's Sphinx, and dask (the tests run
# sweeps on a local Dask cluster too, compare(executor=Client.get_executor())). make lab installs none of them.
EXTRAS ?= test,site,dask
PORT ?= 8888
# JupyterLab refuses to run as root unless told to.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
PYTEST_FLAGS ?=
# Claims must not rest on one machine's rounding: make test runs the notebooks again with other CPU kernels and
# one thread (each changes PyTorch's rounding). Other variants: ATEN_CPU_CAPABILITY=default, OMP_NUM_THREADS=1.
NUMERICS_VARIANT ?= ATEN_CPU_CAPABILITY=avx2 OMP_NUM_THREADS=1
# The variant runs one thread per kernel, so two notebooks at a time (one per core; a notebook stays in one worker).
VARIANT_WORKERS ?= -n 2 --dist loadfile
SITE := build/site

.PHONY: help install install-test lab test test-fast test-lib test-notebooks test-site site bench reproduce generate \
	strip clean
# `make` alone installs, as before help existed.
.DEFAULT_GOAL := install

help:  ## list the targets
	@awk -F ':.*## ' '/^[a-z-]+:.*## /{printf "  make %-18s %s\n", $$1, $$2}' $(firstword $(MAKEFILE_LIST))

install: $(STAMP)  ## make the venv and install the course (make lab does this first)
install-test: $(TEST_STAMP)  ## install also the test tools, the website's Sphinx and Dask

# Re-installs only when pyproject.toml (the one dependency list) or the torch choice changes, or the venv is missing.
# A new venv is made only by a Python in pyproject's range: tools/check_python.py stops any other before a download.
$(STAMP): pyproject.toml tools/torch_source.py
	@test -x $(BIN)/python || { command -v $(PYTHON) >/dev/null || \
		{ echo "make: no $(PYTHON) found; install a Python $(REQUIRES_PYTHON) and pick it: make lab PYTHON=python3.12" >&2; \
		  exit 1; }; $(PYTHON) tools/check_python.py && $(PYTHON) -m venv $(VENV); }
	@args="$$(PIP_FLAGS='$(PIP_FLAGS)' $(BIN)/python tools/torch_source.py $(TORCH_VERSION) $(TORCH))" && \
		echo "torch: pip install $$args" && $(BIN)/python -m pip install --quiet $(PIP_FLAGS) $$args
	$(BIN)/python -m pip install --quiet $(PIP_FLAGS) -e .
	@touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet $(PIP_FLAGS) -e '.[$(EXTRAS)]'
	@touch $(TEST_STAMP)

# Two notebooks training at once no longer fight over the cores: actlab's training loops take turns (actlab.cores;
# `make bench` measures it: the "kernels" case). OMP_WAIT_POLICY=PASSIVE is not set: it made every single run ~1.5x
# slower; pass it (OMP_WAIT_POLICY=PASSIVE make lab) for kernels that train with their own loops side by side.
lab: install  ## open the course in JupyterLab
	$(BIN)/jupyter lab --ip=127.0.0.1 --port=$(PORT) $(ROOT_FLAG) --ServerApp.root_dir=notebooks

# The notebooks' default run saves its outputs (build/executed, keyed by notebook, library source and data), and
# the site is built from those: the course is executed once for both.
test: install-test  ## every test: library, notebooks (twice), browser, website
	@start=$$(date +%s); rc=0; \
	$(BIN)/python -m pytest $(PYTEST_FLAGS) -m "not site" tests --nbval-lax notebooks || rc=1; \
	echo "make test: the notebooks again under other CPU numerics ($(NUMERICS_VARIANT))"; \
	env $(NUMERICS_VARIANT) $(BIN)/python -m pytest $(PYTEST_FLAGS) $(VARIANT_WORKERS) --nbval-lax notebooks || rc=1; \
	echo "make test: the course website from the outputs above"; \
	{ $(BIN)/python tools/build_site.py --cached-only --out $(SITE) && \
	  $(BIN)/python -m pytest $(PYTEST_FLAGS) -m site tests/test_site.py; } || rc=1; \
	echo "make test: $$(( $$(date +%s) - start )) s wall"; exit $$rc

# The developer's loop: the library's tests without the notebooks (nbval needs --nbval-lax, not passed here), the
# browser, the website or the slow tests (PyPI resolution, benchmarks, process pools, two processes taking turns):
# two workers of one torch thread each, one per core (two threads each spin for the cores the other worker holds: the
# same tests took 2.7x the CPU time). Under two minutes on two cores; make test runs every test, at the default threads.
FAST_WORKERS ?= -n 2
test-fast: install-test  ## the library's tests alone: no notebooks, browser, website or slow tests
	env OMP_NUM_THREADS=1 $(BIN)/python -m pytest $(PYTEST_FLAGS) $(FAST_WORKERS) -m "not browser and not site and not slow" tests

test-lib: install-test  ## the library's tests, browser tests included
	$(BIN)/python -m pytest $(PYTEST_FLAGS) -m "not site" tests

test-notebooks: install-test  ## every notebook, under default and other CPU numerics
	$(BIN)/python -m pytest $(PYTEST_FLAGS) --nbval-lax notebooks
	env $(NUMERICS_VARIANT) $(BIN)/python -m pytest $(PYTEST_FLAGS) $(VARIANT_WORKERS) --nbval-lax notebooks

# The course website in build/site (open build/site/index.html). Executes only notebooks without saved outputs.
site: install-test  ## the course website in build/site
	$(BIN)/python tools/build_site.py $(SITE_FLAGS) --out $(SITE)

test-site: site  ## build the website and check every page in Chromium
	$(BIN)/python -m pytest $(PYTEST_FLAGS) -m site tests/test_site.py

# Every case by default; BENCH picks some, e.g. make bench BENCH="sweep kernels".
BENCH ?=
bench: install  ## speed measurements (BENCH picks cases)
	$(BIN)/python -m actlab.bench $(BENCH)

# Notebook 12's full reproductions (one module per paper in lib/actlab/experiments/reproductions/), cached
# under data/cache through actlab.cache; the notebook then shows them.
# Each run uses one torch thread (results do not depend on the executor); WORKERS=N runs N at a time, up to the cores.
WORKERS ?= 1
reproduce: install  ## notebook 12's full reproductions (WORKERS=N at a time)
	$(BIN)/python -m actlab.experiments.reproductions --full --workers $(WORKERS)

# Rewrite every generated notebook cell from its generator: the playground sections (tools/playground_cells.py) and
# the Colab set-up cell with the README's Colab links (tools/colab.py). tests/test_playground_cells.py and
# tests/test_colab.py fail when a committed notebook differs from what these write.
generate: install-test  ## rewrite every generated notebook cell (playground sections, Colab cell and links)
	$(BIN)/python tools/playground_cells.py
	$(BIN)/python tools/colab.py

# Remove outputs from every notebook, except cells tagged or marked keep_output.
strip: install-test  ## remove notebook outputs before committing
	$(BIN)/nbstripout --keep-id notebooks/*.ipynb

clean:  ## delete cached data, results and build outputs
	rm -rf data/cache data/*.npz .pytest_cache artifacts build
