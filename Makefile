# mtsweep: `make demo` runs the demo sweep on the embedded tiny model; `make test` runs the tests.
# Both create .venv and install everything on a fresh machine (torch CPU build first).
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0

.PHONY: setup test demo lint
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --upgrade "pip>=24"
	$(PY) -m pip install "$(TORCH)"
	$(PY) -m pip install -e '.[dev]'
	touch $@

lint: setup
	$(VENV)/bin/ruff check .

test: setup lint
	$(PY) -m pytest tests -q --durations=25

demo: setup
	$(VENV)/bin/mtsweep demo
