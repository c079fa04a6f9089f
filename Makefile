# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: install demo test lint typecheck bench lock clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

demo: install
	$(PY) scripts/demo.py --out demo

test: install
	$(PY) -m ruff check posestore ingest queries tests benchmarks scripts notebooks
	$(PY) -m ruff format --check posestore ingest queries tests benchmarks scripts notebooks
	$(MAKE) --no-print-directory typecheck
	$(PY) -m pytest -n 2 -q

# mypy cannot follow the package-dir mapping (ingest/ → posestore.ingest), so it checks a tree of
# links in the installed layout, rebuilt each time (a new module needs no step); see [tool.mypy]
typecheck: install
	rm -rf build/mypy && mkdir -p build/mypy/posestore
	ln -s $(CURDIR)/posestore/* build/mypy/posestore/
	ln -s $(CURDIR)/ingest build/mypy/posestore/ingest
	ln -s $(CURDIR)/queries build/mypy/posestore/queries
	$(PY) -m mypy

lint: install
	$(PY) -m ruff check posestore ingest queries tests benchmarks scripts notebooks
	$(PY) -m ruff format --check posestore ingest queries tests benchmarks scripts notebooks

bench: install
	$(PY) benchmarks/run.py $(BENCH_ARGS)

# Regenerate the lock from pyproject.toml: the versions pip resolves today, frozen.
lock:
	rm -rf /tmp/posestore-lock && $(PYTHON) -m venv /tmp/posestore-lock
	/tmp/posestore-lock/bin/pip install --quiet '.[dev]'
	/tmp/posestore-lock/bin/pip freeze --exclude posestore > requirements.lock

clean:
	rm -rf $(VENV) demo build *.egg-info
