# `make demo` and `make test` work on a fresh clone: they create .venv and install everything.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install browser demo dashboard test check lint format clean corpus durations

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,test]'
	@touch $(STAMP)

install: $(STAMP) browser

# headless Debian chromium for the browser tests (issue 7); installed once when missing
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { echo "installing chromium (Debian package) for the browser tests"; \
	    SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	    $$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || \
	    { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q chromium >/dev/null; } || \
	    echo "warning: could not install chromium; browser tests will be skipped"; }

demo: $(STAMP)
	$(BIN)/distributor --config examples/demo.yaml run --once --dry-run

# the dashboard on the demo articles, sending nothing: log in as demo / demo-password
dashboard: $(STAMP)
	cd examples && export DISTRIBUTOR_DATABASE_URL=sqlite:///dashboard-demo.db && \
	  ../$(BIN)/distributor --config demo.yaml fetch && \
	  echo demo-password | ../$(BIN)/distributor --config demo.yaml editors add demo \
	    --password-stdin --update && \
	  echo "open http://127.0.0.1:8000/dashboard/ and log in as demo / demo-password" && \
	  ../$(BIN)/distributor --config demo.yaml serve --dry-run

# pytest-xdist workers for test and check (`make test WORKERS=auto`: one per CPU; 0: none).
# loadgroup keeps the browser tests (one served site) on one worker. Seven on two cores: many
# tests wait on processes, servers and timeouts, so more workers than cores fill the cores.
# Measured on 2026-12-03 on an idle 2-core machine (a 30-million-step Python loop: 2.1-2.4 s),
# with the long tests handed out first (tests/support/run_order.py): `make check` 71 s with 5,
# 71 s with 6, 64-66 s with 7, 63 s with 8, 65 s with 9; `make test` 144 s with 5, 124 s with
# 7, 127 s with 8. With the loop at 2.0 s: `make check` 56 s with 7. On 2026-12-04, the long
# tests spread out (loop 1.5-1.6 s): `make check` 50-51 s with 7, 52-55 s with 9.
WORKERS ?= 7
PYTEST  := $(BIN)/python -m pytest -q -n $(WORKERS) --dist loadgroup
# Every xdist worker imports every test module, and pytest rewrites each one's asserts first
# (about 5 s of CPU a worker) unless it finds the rewritten module cached in __pycache__. Some
# machines set PYTHONDONTWRITEBYTECODE, so nothing is ever cached: let Python write its cache,
# and fill it once (collecting, no test run) before the workers start.
unexport PYTHONDONTWRITEBYTECODE
COLLECT := $(BIN)/python -m pytest -q --collect-only
# Filled again only when a test file changed since the last fill (a fresh clone: always), in
# two processes, one a core.
TEST_SOURCES := $(shell find tests -name '*.py' -not -path '*/__pycache__/*' 2>/dev/null)
COLLECTED := $(VENV)/.collected-stamp

$(COLLECTED): $(STAMP) $(TEST_SOURCES)
	@{ $(COLLECT) tests/integration >/dev/null 2>&1 & \
	   $(COLLECT) tests/unit tests/system >/dev/null 2>&1; wait; } || true
	@touch $@

# everything: unit (pure), integration (real stores, SMTP and HTTP doubles), system (processes,
# browser, soak at suite sizes: bench/soak.py runs the full ones). CI runs this.
test: $(STAMP) browser $(COLLECTED)
	$(PYTEST)

# the fast layers while you work: no processes, no browser, and a quarter of the examples of
# each property test (tests/support/examples.py; `make test` draws them all)
check: $(STAMP) $(COLLECTED)
	DISTRIBUTOR_TEST_EXAMPLES=0.25 $(PYTEST) tests/unit tests/integration

lint: $(STAMP)
	$(BIN)/ruff check distributor tests bench
	$(BIN)/mypy distributor
	@if test -x $(BIN)/hadolint; then $(BIN)/hadolint Dockerfile; fi

format: $(STAMP)
	$(BIN)/ruff check --fix distributor tests

# tests/durations.json: the long tests of the last run and each file's mean (a clone without
# pytest's cache hands tests out by it; see tests/support/run_order.py). After `make test`,
# when tests changed.
durations: $(STAMP)
	$(BIN)/python tests/support/run_order.py

clean:
	rm -rf outbox examples/demo.db* .pytest_cache .mypy_cache .ruff_cache

# issue 13: what the parser reads in every real article of tests/corpus, per field; 1 below 100%
corpus: $(STAMP)
	$(BIN)/python tests/corpus/check.py
