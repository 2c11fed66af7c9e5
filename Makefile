# crigate: the two commands the README gives.
#   make conformance   set up, build the test bed, run the suites on both runtimes
#   make test          lint and unit tests first (fail fast), then set up, build the
#                      test bed, run the suites on both runtimes and then crigate's
#                      own test-bed tests; fails if any of them fails
#   make lint          ruff over the whole tree (configured in pyproject.toml)
#   make unit          every test that needs no cluster and no test-bed build (~1 min)
#   make baseline      pod start latency: Docker (cri-dockerd) vs containerd vs CRI-O, one run
#   make soak N=10     the conformance job N times: failed runs per check x runtime
#
# Everything Python runs from a virtual environment (.venv) made with PYTHON:
# Debian's own python3 works (apt-get install python3-venv), no global pip.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
N ?= 10
# The suites measure at --measure=quick unless told (plugins/options.py: a 5-pod burst once,
# critest's benchmark of 3, no EventedPLEG); make baseline measures at --measure=full.

.PHONY: setup lint unit build test conformance baseline soak clean

$(VENV)/.crigate-installed: pyproject.toml
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { echo "make: $(PYTHON) cannot make a virtual environment; on Debian/Ubuntu: apt-get install python3-venv" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

setup: $(VENV)/.crigate-installed

lint: setup
	$(VENV)/bin/ruff check .

# tests marked testbed or violations need the built test bed (Docker engine,
# Go builds, kind clusters, chromium); everything else is a unit test
UNIT_TESTS := -m "not testbed and not violations"
CLUSTER_TESTS := -m "testbed or violations"

unit: setup
	$(PY) -m pytest tests $(UNIT_TESTS) -n 2 -p no:cacheprovider -q

build: setup
	$(PY) -m crigate.testbed build --runtime all,docker

conformance: build
	$(PY) -m pytest suites --runtime all -n 2 $(PYTEST_ARGS)

test: lint unit build
	@$(PY) -m pytest suites --runtime all -n 2 --report-dir reports/conformance $(PYTEST_ARGS); \
	conformance=$$?; \
	$(PY) -m pytest tests $(CLUSTER_TESTS) --runtime all -n 2 --report-dir reports/tests $(PYTEST_ARGS); \
	tests=$$?; \
	echo "make test: conformance suites exit $$conformance, crigate's own tests exit $$tests"; \
	if [ $$conformance -ne 0 ]; then exit $$conformance; fi; exit $$tests

# One runtime at a time (no -n), so the runtimes do not share the CPUs while measured:
# --measure=full: 40 pods one at a time with their phases, a 30-pod burst 5 times with the
# node's cost, critest's benchmark of 20, EventedPLEG, and the ratios of each runtime to
# the Docker baseline (report: reports/baseline/).
baseline: build
	$(PY) -m pytest suites -m latency --runtime all,docker --measure=full --report-dir reports/baseline $(PYTEST_ARGS)

soak: build
	$(PY) bench/soak.py --runs $(N) -- --runtime all -n 2 $(PYTEST_ARGS)

clean:
	$(PY) -m crigate.testbed down --all
