# Two commands do everything on a fresh machine:  `make run` (the app)  and  `make test` (all tests).
# `make test-unit`: the algorithm's core tests alone (pytest marker `core`), about a minute.
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
PORT    ?= 8501
TORCH   ?= torch==2.13.0
# pytest-xdist workers for `make test`: whole test files go to each (a file's module fixtures, e.g. its
# Streamlit server, start once), the slowest files first (tests/conftest.py SLOW_FIRST); WORKERS=0 runs serially
WORKERS ?= 2
# one torch thread per test process: two workers already fill two cores, and a second intra-op thread per process
# only spins against the other worker (a three-worker run took 673 CPU-s where two took 507)
TEST_THREADS ?= 1
XDIST   := $(if $(filter 0,$(WORKERS)),,-n $(WORKERS) --dist loadfile --no-loadscope-reorder)

.PHONY: setup data run test test-fast test-unit bench chromium clean

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# the CPU build first: a looser spec would pull a multi-GB CUDA build
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e ".[dev]"
	# the ranking metrics' independent oracle, without its TensorFlow-sized requirements (it needs numpy, pandas, scikit-learn)
	$(PY) -m pip install --quiet --no-deps recommenders==1.2.1
	touch $(STAMP)

setup: $(STAMP)

data: $(STAMP)
	$(PY) -m gnnrec data

run: data
	$(VENV)/bin/streamlit run app.py --server.port $(PORT) --server.headless true

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# the suite starts ~50 Python processes (Streamlit servers, job children, CLI runs): bytecode is cached
# in __pycache__ (git-ignored) even where the environment says PYTHONDONTWRITEBYTECODE, so that each of
# them does not compile gnnrec and pages/ again (5% of the host CPU of the files that start the most).
# The core tests whose code reads the speed-up switch (marker `reference`: GNNPredictor is its one reader)
# run twice in it, [fast] and [reference] (every speed-up of gnnrec.fast off: tests/conftest.py); the other
# core files run the same code either way, and test_fast.py compares the two paths
test: data chromium
	$(PY) -m ruff check .
	PYTHONDONTWRITEBYTECODE= OMP_NUM_THREADS=$(TEST_THREADS) $(PY) -m pytest -q $(XDIST) $(PYTEST_ARGS)

test-unit: data
	$(PY) -m pytest -q -m core $(PYTEST_ARGS)

test-fast: data
	$(PY) -m ruff check .
	$(PY) -m pytest -q -m "not browser" $(PYTEST_ARGS)

bench: data
	$(PY) bench/train_speed.py
	$(PY) bench/experiment.py
	$(PY) bench/app_speed.py

clean:
	rm -rf $(VENV) .pytest_cache screenshots
