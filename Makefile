# The two commands in the README:
#   make demo   set up a virtualenv and run a full sync cycle against the bundled emulators
#   make test   set up the same virtualenv and run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test install bench clean

$(BIN)/syncd: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

install: $(BIN)/syncd

demo: install
	$(BIN)/syncd demo

test: install
	$(BIN)/python -m pytest -n 2 --dist loadgroup

bench: install
	$(BIN)/python scripts/benchmark.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
