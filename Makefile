# The two commands a newcomer types: `make run` and `make test`.
# Both create .venv with the project installed (.[all]) when it is missing or older
# than pyproject.toml.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.edgeward-installed
# pytest workers: the suite is mostly waiting on real servers, two workers fit 2 cores.
PYTEST_WORKERS ?= 2

.PHONY: run test lint typecheck pytest bench clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[all]'
	@touch $(STAMP)

run: $(STAMP)
	@$(PY) -m edgeward.run

test: lint typecheck pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# Every benchmark, then one summary line per figure (each a ratio against its peer in the
# same run); the full log stays in var/bench.log.
bench: $(STAMP)
	@set -e; mkdir -p var; : > var/bench.log; \
	for b in bench/*.py; do [ "$$b" = bench/harness.py ] && continue; \
	  echo "== $$b" | tee -a var/bench.log; \
	  (rc=0; $(PY) $$b 2>&1 || rc=$$?; echo $$rc > var/bench.rc) | tee -a var/bench.log; [ "$$(cat var/bench.rc)" = 0 ]; \
	done; \
	echo "== summary (full log: var/bench.log)"; $(PY) bench/harness.py summary var/bench.log

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
