# The two commands: `make run` and `make test` (README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck layers pytest fuzz clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/groupware init
	$(BIN)/groupware serve

test: lint typecheck layers pytest

lint: $(STAMP)
	$(BIN)/ruff check groupware harness tests bench migrations
	$(BIN)/ruff format --check groupware harness tests bench migrations

typecheck: $(STAMP)
	$(BIN)/mypy groupware

layers: $(STAMP)
	$(BIN)/lint-imports

# Two workers: most tests wait on sockets and timers, so the suite takes about 20 minutes
# instead of 27 on two cores (PYTEST_ARGS="-n 0" runs it in one process).
PYTEST_ARGS ?= -n 2

pytest: $(STAMP)
	$(BIN)/pytest -q $(PYTEST_ARGS)

# Fuzzing (tests/fuzz/): `make test` replays every target's kept corpus and tries a few
# hundred hypothesis inputs on each. `make fuzz` runs atheris (libFuzzer) campaigns, one
# target after another, FUZZ_SECONDS each (FUZZ_TARGETS="imap_command smtp_session" picks
# some; FUZZ_ARGS=--scale also times 100 KiB inputs). It prints per target the seconds,
# executions, corpus growth and crashes; what it learns and finds is under var/fuzz/.
# Keep a crash, once fixed, as tests/fuzz/corpus/<target>/<what-it-was>.
FUZZ_SECONDS ?= 60
FUZZ_STAMP := $(VENV)/.fuzz-installed

$(FUZZ_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,fuzz]'
	touch $(FUZZ_STAMP)

fuzz: $(FUZZ_STAMP)
	$(BIN)/python -m tests.fuzz.campaign --seconds $(FUZZ_SECONDS) $(FUZZ_ARGS) $(FUZZ_TARGETS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
