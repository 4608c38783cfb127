# make demo   set up (if needed) and run the main job on the built-in demo data
# make test   set up (if needed) and run the test suite
# make setup  only the idempotent set-up (scripts/setup_env.sh; KD_VENV picks the environment)
KD_VENV ?= $(CURDIR)/.venv
export KD_VENV
PY := $(KD_VENV)/bin/python

.PHONY: setup demo test
setup:
	bash scripts/setup_env.sh

demo: setup
	$(PY) tools/run_demo.py $(ARGS)

test: setup
	$(PY) -m pytest tests $(ARGS)
