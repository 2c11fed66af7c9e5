# crigate: the two commands the README gives.
#   make conformance   set up, build the test bed, run the suites on both runtimes
#   make test          set up, build the test bed, run crigate's own tests
#   make baseline      pod start latency: Docker (cri-dockerd) vs containerd vs CRI-O, one run
PYTHON ?= python3
PYTEST_ARGS ?=

.PHONY: setup build test conformance baseline clean

setup:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e .

build: setup
	$(PYTHON) -m clusters build --runtime all,docker

test: build
	$(PYTHON) -m pytest tests --runtime all -n 2 $(PYTEST_ARGS)

conformance: build
	$(PYTHON) -m pytest suites --runtime all -n 2 $(PYTEST_ARGS)

# One runtime at a time (no -n), so the runtimes do not share the CPUs while measured.
baseline: build
	$(PYTHON) -m pytest suites -m latency --runtime all,docker --latency-pods 40 $(PYTEST_ARGS)

clean:
	$(PYTHON) -m clusters down --all
