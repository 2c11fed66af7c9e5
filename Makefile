# crigate: the two commands the README gives.
#   make conformance   set up, build the test bed, run the suites on both runtimes
#   make test          set up, build the test bed, run crigate's own tests
PYTHON ?= python3
PYTEST_ARGS ?=

.PHONY: setup build test conformance clean

setup:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e .

build: setup
	$(PYTHON) -m clusters build --runtime all

test: build
	$(PYTHON) -m pytest tests --runtime all -n 2 $(PYTEST_ARGS)

conformance: build
	$(PYTHON) -m pytest suites --runtime all -n 2 $(PYTEST_ARGS)

clean:
	$(PYTHON) -m clusters down --all
