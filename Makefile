# Two commands set everything up on a fresh machine: `make test` and `make demo`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Debian's packages of the shells the tests evaluate our output in.
DEBIAN_SHELLS := zsh fish ksh tcsh dash direnv elvish xonsh

.PHONY: test lint pytest demo shells venv fuzz bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $@

# Installs the missing shells with apt-get when running as root; elsewhere says what is missing.
shells:
	@missing=""; for s in $(DEBIAN_SHELLS); do command -v $$s >/dev/null 2>&1 || missing="$$missing $$s"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "missing shells:$$missing (tests that need them are skipped; CI=true fails them)"; fi

lint: venv
	$(VENV)/bin/ruff check mfa_env tests scripts benchmarks
	$(VENV)/bin/ruff format --check mfa_env tests scripts benchmarks

pytest: venv shells
	$(VENV)/bin/pytest -q

test: lint pytest

demo: venv
	bash scripts/demo.sh

# Whole-process times against a local moto server; installs awsume and aws-mfa under .bench/.
bench: venv
	$(PY) benchmarks/bench.py --peers

clean:
	rm -rf $(VENV) .bench build dist *.egg-info .pytest_cache .ruff_cache .hypothesis
