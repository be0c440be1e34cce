# Two commands set everything up on a fresh machine: `make test` and `make demo`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Debian's packages of the shells the tests evaluate our output in.
DEBIAN_SHELLS := zsh fish ksh tcsh dash direnv elvish xonsh
# From npm, pinned: `from nuon` and `load-env` are what the nushell output is tested against.
NUSHELL_VERSION := 0.115.1
TOOLS := .tools

.PHONY: test lint pytest demo shells venv fuzz bench completions clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $@

# Installs the missing shells with apt-get when running as root; elsewhere says what is missing.
# nushell is not in Debian: npm's `nushell` package ships the real `nu` binary (linux-x64,
# linux-arm64, …) and goes into .tools/ (gitignored), where tests/conftest.py's require() looks.
shells:
	@missing=""; for s in $(DEBIAN_SHELLS); do command -v $$s >/dev/null 2>&1 || missing="$$missing $$s"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "missing shells:$$missing (tests that need them are skipped; CI=true fails them)"; fi
	@if grep -qs '"version": "$(NUSHELL_VERSION)"' $(TOOLS)/node_modules/nushell/package.json; then exit 0; fi; \
	if ! command -v npm >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing: npm"; \
	  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; \
	fi; \
	if command -v npm >/dev/null; then \
	  echo "installing: nushell $(NUSHELL_VERSION) into $(TOOLS)/"; \
	  npm install --prefix $(TOOLS) --no-save --include=optional --no-audit --no-fund --loglevel=error \
	    nushell@$(NUSHELL_VERSION) >/dev/null; \
	else echo "missing shells: nu, and npm to install it (tests that need it are skipped; CI=true fails them)"; fi

# The shell property tests, long and randomized: new examples every run.
fuzz: venv shells
	MFA_ENV_FUZZ_EXAMPLES=$${MFA_ENV_FUZZ_EXAMPLES:-2000} MFA_ENV_FUZZ_RANDOM=1 \
	  $(VENV)/bin/pytest -q tests/test_shells.py tests/test_cmd.py tests/test_hostile.py

lint: venv
	$(VENV)/bin/ruff check mfa_env tests scripts benchmarks
	$(VENV)/bin/ruff format --check mfa_env tests scripts benchmarks

pytest: venv shells
	$(VENV)/bin/pytest -q

test: lint pytest

# Only what the demo needs (the package and moto's server), in a venv of its own: not the test
# toolchain, and never in the way of `make test`'s .venv.
demo: .venv-demo/.installed
	VENV=.venv-demo bash scripts/demo.sh

.venv-demo/.installed: pyproject.toml
	$(PYTHON) -m venv .venv-demo
	.venv-demo/bin/python -m pip install -q --disable-pip-version-check -e . 'moto[server]>=5.0'
	touch $@

# click writes each shell's completion script; tests/test_completions.py checks they are current.
completions: venv
	for pair in bash:bash zsh:zsh fish:fish powershell:ps1; do \
	  _MFA_ENV_COMPLETE=$${pair%%:*}_source $(VENV)/bin/mfa-env > completions/mfa-env.$${pair##*:} || exit 1; \
	done

# Whole-process times against a local moto server; installs awsume and aws-mfa under .bench/.
bench: venv
	$(PY) benchmarks/bench.py --peers --write-readme

clean:
	rm -rf $(VENV) .bench build dist *.egg-info .pytest_cache .ruff_cache .hypothesis
