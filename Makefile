# found — every target installs what it needs into .venv first (nothing by hand).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: install demo test test-python test-engine sanitize bench fuzz bindingtester lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Builds the engine (found/libfdb_c.so), the cffi module and the tuple codec.
install: $(PY)
	$(PY) -m pip install -q -e '.[test,dev]'

# The main example on the embedded engine's default data directory.
demo: install
	$(PY) examples/counter.py

# Everything: the engine's native suite (plain and under ASan+UBSan), then the Python
# suite (the engine through found and through the official fdb binding).
test: install
	$(PY) -m ruff check found tests benchmarks examples setup.py
	bash tests/engine/run.sh all
	$(PY) -m pytest -q

test-python: install
	$(PY) -m pytest -q

# The engine's own native suite (tests/engine), plain and under ASan+UBSan.
test-engine:
	bash tests/engine/run.sh plain

sanitize:
	bash tests/engine/run.sh sanitize

# The differential tester (found vs the official fdb binding) on a long random run.
fuzz: install
	FOUND_FUZZ_INSTRUCTIONS=$${FOUND_FUZZ_INSTRUCTIONS:-200000} $(PY) -m pytest -q tests/test_differential.py

# FoundationDB's own bindingtester (spec §6) against the engine: needs a checkout of
# apple/foundationdb in FDB_SRC; SEEDS, NUM_OPS, TESTS… are read by the script.
bindingtester:
	@if [ -z "$(FDB_SRC)" ]; then \
	    echo "make bindingtester needs FDB_SRC=<checkout of github.com/apple/foundationdb>"; \
	    echo "  e.g. git clone --depth 1 https://github.com/apple/foundationdb /tmp/fdb"; \
	    echo "       make bindingtester FDB_SRC=/tmp/fdb SEEDS=\"\$$(seq 1 50)\""; \
	    echo "  (tests/bindingtester/run.sh lists its variables)"; \
	    exit 2; \
	fi
	@$(MAKE) --no-print-directory install
	bash tests/bindingtester/run.sh "$(FDB_SRC)"

bench: install
	$(PY) benchmarks/run_all.py

lint: install
	$(PY) -m ruff check found tests benchmarks examples setup.py

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache .hypothesis
	rm -f found/*.so found/_capi.c
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
