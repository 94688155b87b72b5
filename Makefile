# microprop: `make run` runs the default workflow, `make test` runs the test suite.
# Both create the environment in .venv first if it is missing or out of date.

VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.microprop-installed
CORES   ?= all
PROFILE ?= profiles/default
LOCK    := requirements.lock

.PHONY: setup run test test-fast lint format lock smoke clean slurm-up slurm-down docs

setup: $(STAMP)

# dolfinx-solver-real needs Python >= 3.12: take a working python3.13/python3.12 on
# PATH, else one of pyenv's installed 3.12+ versions; stop with one line otherwise.
$(STAMP): pyproject.toml $(LOCK)
	@py=""; \
	for c in python3.13 python3.12; do \
	  if command -v $$c >/dev/null 2>&1 && $$c -c 'import sys, venv; assert sys.version_info >= (3, 12)' >/dev/null 2>&1; then py=$$(command -v $$c); break; fi; \
	done; \
	if [ -z "$$py" ] && command -v pyenv >/dev/null 2>&1; then \
	  for v in $$(pyenv versions --bare 2>/dev/null | grep -E '^3\.(1[2-9]|[2-9][0-9])(\.[0-9]+)?$$' | sort -t. -k2,2nr -k3,3nr); do \
	    c="$$(pyenv root)/versions/$$v/bin/python3"; \
	    if $$c -c 'import sys, venv; assert sys.version_info >= (3, 12)' >/dev/null 2>&1; then py=$$c; break; fi; \
	  done; \
	fi; \
	if [ -z "$$py" ]; then echo "microprop needs Python >= 3.12 (for dolfinx): install python3.12 or python3.13 (e.g. 'pyenv install 3.12') and run make again." >&2; exit 1; fi; \
	echo "Setting up $(VENV) with $$py"; \
	if [ ! -x $(BIN)/python ] || ! $(BIN)/python -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then rm -rf $(VENV); $$py -m venv $(VENV); fi
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -c 'import h5py; from mpi4py import MPI; import dolfinx, torch, torchvision, numba, snakemake; print("environment ok: dolfinx", dolfinx.__version__, "torch", torch.__version__)'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --profile $(PROFILE)
	$(BIN)/snakemake --cores $(CORES) --profile $(PROFILE) --report results/report.html

test: $(STAMP)
	$(BIN)/python -m pytest

# the unit tests and doctests for daily work: no workflow runs, no slow physics checks
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not workflow"

# Refresh the locked dependencies on purpose (never implicitly): resolves pyproject.toml
# anew for Python >= 3.12 on every platform, with hashes, and regenerates the per-rule
# conda environment from the lock. Then `make setup` installs exactly the lock.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --universal \
	  --python-version 3.12 --upgrade -o $(LOCK)
	$(BIN)/python envs/conda_from_lock.py $(LOCK) > envs/microprop.yaml

# The documentation site (docs/, mkdocs.yml) into site/; --strict fails on a broken link
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

lint: $(STAMP)
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/snakefmt Snakefile rules
	$(BIN)/ruff format .

# A single-node SLURM on this machine (root or sudo; installs Debian's packages), for
# trying profiles/slurm; the SLURM tests start it themselves. See profiles/README.md.
slurm-up:
	bash tests/slurm/up.sh

slurm-down:
	bash tests/slurm/down.sh

clean:
	rm -rf results .snakemake site
