# CNN Lab: `make run` starts the app, `make test` runs every test. Both set themselves up first.
# `make workshop REPLICAS=2 [RAY=1]` serves a room: replicas behind nginx (deploy/workshop.py).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=
REPLICAS ?= 2
PORT ?= 8501
RAY ?= 0

.PHONY: run test test-quick bench workshop chromium nginx assets clean

run: $(VENV)/.runtime
	$(PY) -m streamlit run Home.py

test: $(VENV)/.dev $(VENV)/.workshop chromium nginx
	CNNLAB_OFFLINE=1 $(PY) -m pytest $(PYTEST_ARGS)

test-quick: $(VENV)/.dev
	CNNLAB_OFFLINE=1 $(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

bench: $(VENV)/.dev chromium nginx
	$(PY) -m bench $(GROUP)

workshop: $(VENV)/.runtime nginx
ifeq ($(RAY),1)
	$(PY) -m pip install -r requirements-workshop.txt
endif
	$(PY) deploy/workshop.py --replicas $(REPLICAS) --port $(PORT) $(if $(filter 1,$(RAY)),--ray)

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

# Debian's nginx for `make workshop` and the replica test (run in the foreground under its own prefix).
nginx:
	@[ -x /usr/sbin/nginx ] || { $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y nginx; }

clean:
	rm -rf $(VENV) .pytest_cache
