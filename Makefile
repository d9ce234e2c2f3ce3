# The two commands in the README:
#   make demo   set up a virtualenv and run a full sync cycle against the bundled emulators
#   make test   set up the same virtualenv and run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test install bench clean systemd-analyze chromium

$(BIN)/syncd: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

install: $(BIN)/syncd

demo: install
	$(BIN)/syncd demo

# The layers (import-linter contracts in pyproject.toml), the suite, and the suite again with the
# clock a year ahead (tests/clock_shift.py): nothing may depend on today's date. The chaos suite
# (marker `chaos`, a few minutes of real retries and SIGKILLed processes) runs once, in the second
# pass: a bad day a year from now proves as much as one today, and the suite stays under 10 minutes.
test: install systemd-analyze chromium
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n 2 --dist loadgroup -m "not chaos"
	TEST_CLOCK_SHIFT_DAYS=365 $(BIN)/python -m pytest -n 2 --dist loadgroup -q

# tests/test_systemd_units.py runs `systemd-analyze verify` on the unit files. Install it when we
# can (root, or password-less sudo, with apt-get); otherwise that test is skipped with the reason.
systemd-analyze:
	@command -v systemd-analyze >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi; \
	  if [ "$$SUDO" != none ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing systemd (for systemd-analyze verify)"; \
	    { $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	        --no-install-recommends systemd >/dev/null; } \
	      || echo "note: could not install systemd; the unit-file test will be skipped"; \
	  else \
	    echo "note: systemd-analyze not found and cannot be installed here (needs root and apt-get);" \
	         "the unit-file test will be skipped"; \
	  fi; }

# tests/test_status_page_browser.py drives Debian's headless Chromium with its ChromeDriver (through
# selenium, in the test extras). Installed like systemd above (about 12 s here, apt-get update
# included); without them that test is skipped with the reason.
chromium:
	@{ command -v chromium && command -v chromedriver; } >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi; \
	  if [ "$$SUDO" != none ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium and chromium-driver (for the status page's browser test)"; \
	    { $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	        --no-install-recommends chromium chromium-driver >/dev/null; } \
	      || echo "note: could not install chromium; the browser test will be skipped"; \
	  else \
	    echo "note: chromium not found and cannot be installed here (needs root and apt-get);" \
	         "the browser test will be skipped"; \
	  fi; }

bench: install
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
