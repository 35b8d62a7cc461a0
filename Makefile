# mtsweep: `make demo` runs the demo sweep on the embedded tiny model; `make test` runs the tests.
# Both create .venv and install everything on a fresh machine (torch CPU build first, then the full set:
# `.[dev]` = the training stack `.[train]` + test tools). Set-up prints one line per phase; pip's own
# output goes to .venv/setup.log, shown when a phase fails.
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0
LOG := $(VENV)/setup.log

# $(call phase,what,command): run command quietly into $(LOG); on failure show the log's tail and stop.
define phase
	@echo "setup: $(1)"
	@$(2) >>$(LOG) 2>&1 || { tail -n 40 $(LOG); echo "setup failed: $(1) (full log: $(LOG))"; exit 1; }
endef

.PHONY: setup test demo lint
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@echo "setup: virtual environment $(VENV)"
	@python3 -m venv $(VENV) && : >$(LOG)
	$(call phase,pip,$(PY) -m pip install -q --upgrade "pip>=24")
	$(call phase,$(TORCH) (CPU build first),$(PY) -m pip install -q "$(TORCH)")
	$(call phase,mtsweep with the training stack and test tools (.[dev]),$(PY) -m pip install -q -e '.[dev]')
	@touch $@
	@echo "setup: done (log: $(LOG))"

lint: setup
	$(VENV)/bin/ruff check .

test: setup lint
	$(PY) -m pytest tests -q --durations=25

demo: setup
	$(VENV)/bin/mtsweep demo
