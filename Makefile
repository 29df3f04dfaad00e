# CNN Lab: `make run` starts the app, `make test` runs every test. Both set themselves up first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=

.PHONY: run test test-quick bench chromium assets clean

run: $(VENV)/.runtime
	$(PY) -m streamlit run Home.py

test: $(VENV)/.dev $(VENV)/.workshop chromium
	CNNLAB_OFFLINE=1 $(PY) -m pytest $(PYTEST_ARGS)

test-quick: $(VENV)/.dev
	CNNLAB_OFFLINE=1 $(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

bench: $(VENV)/.dev chromium
	$(PY) -m bench $(GROUP)

assets: $(VENV)/.runtime
	$(PY) scripts/train_assets.py

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install -r requirements-dev.txt
	touch $@

# The optional Ray extra (requirements-workshop.txt), for the Ray tests and a workshop's cluster.
$(VENV)/.workshop: requirements-workshop.txt $(VENV)/.runtime
	$(PY) -m pip install -r requirements-workshop.txt
	touch $@

# Debian's chromium for the browser tests (Playwright drives it; no browser download).
chromium:
	@[ -x /usr/bin/chromium ] || { $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

clean:
	rm -rf $(VENV) .pytest_cache
