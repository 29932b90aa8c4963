# Quick start: `make demo` and `make test` need only python3 and make.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean clean-cache

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dask]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/busyhour demo

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider
	NUMBA_DISABLE_JIT=1 $(PY) -m pytest -q -p no:cacheprovider tests/kernels

bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[test,dask,peers]"
	$(PY) -m pytest -q -p no:cacheprovider -m benchmark --benchmark-enable bench

clean: clean-cache
	rm -rf $(VENV) build *.egg-info

# numba's on-disk caches of the kernels (__pycache__/*.nbi, *.nbc). Not needed after a pull: a changed source
# makes them stale by itself (router/core_cache.py); this only frees the space.
clean-cache:
	find . -path ./$(VENV) -prune -o \( -name '*.nbi' -o -name '*.nbc' \) -type f -print0 | xargs -0 rm -f
