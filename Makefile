# actlab: `make lab` opens the course, `make test` runs every test. Both set everything up first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Extra pip options, e.g. PIP_FLAGS="--extra-index-url https://download.pytorch.org/whl/cpu" (see README).
PIP_FLAGS ?=
PORT ?= 8888
# JupyterLab refuses to run as root unless told to.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
PYTEST_FLAGS ?=
# Claims must not rest on one machine's rounding: make test runs the notebooks again with other CPU kernels and
# one thread (each changes PyTorch's rounding). Other variants: ATEN_CPU_CAPABILITY=default, OMP_NUM_THREADS=1.
NUMERICS_VARIANT ?= ATEN_CPU_CAPABILITY=avx2 OMP_NUM_THREADS=1

.PHONY: install lab test test-lib test-notebooks bench strip clean

install: $(STAMP)

# Re-installs only when pyproject.toml (the one dependency list) changes or the venv is missing.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(PIP_FLAGS) -e '.[test]'
	@touch $(STAMP)

# Kernels inherit the server's environment. PyTorch's OpenMP threads otherwise spin-wait for cores, so two notebooks
# training at once each ran ~10x slower than alone; PASSIVE makes idle threads sleep (`make bench` measures it:
# the "kernels" case). It must be set before torch is imported, hence here and not in the library.
lab: install
	OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-PASSIVE} $(BIN)/jupyter lab --ip=127.0.0.1 --port=$(PORT) $(ROOT_FLAG) --ServerApp.root_dir=notebooks

test: install
	@start=$$(date +%s); rc=0; \
	$(BIN)/python -m pytest $(PYTEST_FLAGS) tests --nbval-lax notebooks || rc=1; \
	echo "make test: the notebooks again under other CPU numerics ($(NUMERICS_VARIANT))"; \
	env $(NUMERICS_VARIANT) $(BIN)/python -m pytest $(PYTEST_FLAGS) --nbval-lax notebooks || rc=1; \
	echo "make test: $$(( $$(date +%s) - start )) s wall"; exit $$rc

test-lib: install
	$(BIN)/python -m pytest $(PYTEST_FLAGS) tests

test-notebooks: install
	$(BIN)/python -m pytest $(PYTEST_FLAGS) --nbval-lax notebooks
	env $(NUMERICS_VARIANT) $(BIN)/python -m pytest $(PYTEST_FLAGS) --nbval-lax notebooks

bench: install
	$(BIN)/python -m actlab.bench

# Remove outputs from every notebook, except cells tagged or marked keep_output.
strip: install
	$(BIN)/nbstripout --keep-id notebooks/*.ipynb

clean:
	rm -rf data/cache data/*.npz .pytest_cache artifacts
