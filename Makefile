# Two commands set everything up on a fresh machine: `make test` and `make demo`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Debian's packages the tests need, as command:package: the shells our output is evaluated in,
# faketime for the tests that move the clock forward, and a real Secret Service (GNOME Keyring on
# a private D-Bus) for the keyring tests.
DEBIAN_TOOLS := zsh:zsh fish:fish ksh:ksh tcsh:tcsh dash:dash direnv:direnv elvish:elvish \
	xonsh:xonsh faketime:faketime gnome-keyring-daemon:gnome-keyring dbus-daemon:dbus \
	secret-tool:libsecret-tools
# From npm, pinned: `from nuon` and `load-env` are what the nushell output is tested against.
NUSHELL_VERSION := 0.115.1
TOOLS := .tools
# The real AWS clients tests/test_clients.py drives, pinned: AWS CLI v1 in a venv of its own (its
# botocore pin must not fight ours) and the Node.js SDK v3 in a prefix of its own (an
# `npm install --no-save` into nushell's prefix would prune nushell, and the reverse).
AWSCLI_VERSION := 1.46.3
AWS_SDK_JS := @aws-sdk/client-sts@3.1177.0 @aws-sdk/credential-providers@3.1175.0
# npm from Debian, where it is missing and we may install it; a shell fragment for the recipes.
INSTALL_NPM := if ! command -v npm >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; \
	then echo "installing: npm"; apt-get update -qq >/dev/null && \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; fi

.PHONY: test test-fast lint pytest demo shells clients venv fuzz bench completions clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $@

# Installs the missing shells with apt-get when running as root; elsewhere says what is missing.
# nushell is not in Debian: npm's `nushell` package ships the real `nu` binary (linux-x64,
# linux-arm64, …) and goes into .tools/ (gitignored), where tests/conftest.py's require() looks.
shells:
	@missing=""; for pair in $(DEBIAN_TOOLS); do \
	  command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair##*:}"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "missing shells:$$missing (tests that need them are skipped; CI=true fails them)"; fi
	@if grep -qs '"version": "$(NUSHELL_VERSION)"' $(TOOLS)/node_modules/nushell/package.json; then exit 0; fi; \
	$(INSTALL_NPM); \
	if command -v npm >/dev/null; then \
	  echo "installing: nushell $(NUSHELL_VERSION) into $(TOOLS)/"; \
	  npm install --prefix $(TOOLS) --no-save --include=optional --no-audit --no-fund --loglevel=error \
	    nushell@$(NUSHELL_VERSION) >/dev/null; \
	else echo "missing shells: nu, and npm to install it (tests that need it are skipped; CI=true fails them)"; fi

# Idempotent and quiet: each install is skipped while its stamp names the pinned versions.
clients:
	@stamp=$(TOOLS)/awscli/.installed; \
	if ! grep -qsx 'awscli==$(AWSCLI_VERSION)' $$stamp; then \
	  echo "installing: awscli $(AWSCLI_VERSION) into $(TOOLS)/awscli/"; \
	  rm -rf $(TOOLS)/awscli && $(PYTHON) -m venv $(TOOLS)/awscli && \
	  $(TOOLS)/awscli/bin/python -m pip install -q --disable-pip-version-check \
	    awscli==$(AWSCLI_VERSION) && echo 'awscli==$(AWSCLI_VERSION)' > $$stamp; \
	fi
	@stamp=$(TOOLS)/aws-sdk/.installed; \
	if grep -qsx '$(AWS_SDK_JS)' $$stamp; then exit 0; fi; \
	$(INSTALL_NPM); \
	if command -v npm >/dev/null; then \
	  echo "installing: $(AWS_SDK_JS) into $(TOOLS)/aws-sdk/"; \
	  npm install --prefix $(TOOLS)/aws-sdk --no-save --no-audit --no-fund --loglevel=error \
	    $(AWS_SDK_JS) >/dev/null && echo '$(AWS_SDK_JS)' > $$stamp; \
	else echo "missing: npm, to install the AWS SDK for Node.js (its tests are skipped; CI=true fails them)"; fi

# Every property test (marker `property`), randomized: new examples from a new seed each run,
# printed first so that a failure can be replayed. MFA_ENV_FUZZ_EXAMPLES sizes the slow
# fuzzers: examples in each shell for the real-shell round trip (200 in `make test`), and at
# least as many runs or examples for tests/test_file_kinds.py and tests/fast/test_boundaries.py.
fuzz: venv shells
	@seed=$${MFA_ENV_FUZZ_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}; \
	examples=$${MFA_ENV_FUZZ_EXAMPLES:-2000}; \
	echo "fuzz: hypothesis seed $$seed, $$examples examples;" \
	  "replay: MFA_ENV_FUZZ_SEED=$$seed MFA_ENV_FUZZ_EXAMPLES=$$examples make fuzz"; \
	MFA_ENV_FUZZ_EXAMPLES=$$examples MFA_ENV_FUZZ_RANDOM=1 $(VENV)/bin/pytest -q -m property \
	  -n auto --dist worksteal --hypothesis-profile=fuzz --hypothesis-seed=$$seed tests

# mypy for Linux, then as if on Windows and macOS (typeshed marks what each platform lacks),
# each with a cache of its own so that every run stays incremental.
lint: venv
	$(VENV)/bin/ruff check mfa_env tests scripts benchmarks
	$(VENV)/bin/ruff format --check mfa_env tests scripts benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --platform win32 --cache-dir .mypy_cache/win32
	$(VENV)/bin/mypy --platform darwin --cache-dir .mypy_cache/darwin

# The in-process tier: seconds, no servers, no shells (tests/fast/).
test-fast: lint
	$(VENV)/bin/pytest -q tests/fast

# On every core, and one worker more (tests/conftest.py): most tests wait on processes,
# servers and deadlines. worksteal evens out the few long ones; each worker has its own moto.
pytest: venv shells clients
	$(VENV)/bin/pytest -q -n auto --dist worksteal

test: lint pytest

# Only what the demo needs (the package and moto's server), in a venv of its own: not the test
# toolchain, and never in the way of `make test`'s .venv.
demo: .venv-demo/.installed
	VENV=.venv-demo bash scripts/demo.sh

.venv-demo/.installed: pyproject.toml
	$(PYTHON) -m venv .venv-demo
	.venv-demo/bin/python -m pip install -q --disable-pip-version-check -e . 'moto[server]>=5.0'
	touch $@

# click writes each shell's completion script into the package, where --init SHELL reads it;
# tests/test_completions.py checks they are current.
completions: venv
	for pair in bash:bash zsh:zsh fish:fish powershell:ps1; do \
	  _MFA_ENV_COMPLETE=$${pair%%:*}_source $(VENV)/bin/mfa-env > mfa_env/completions/mfa-env.$${pair##*:} || exit 1; \
	done

# Whole-process times against a local moto server; installs awsume and aws-mfa under .bench/.
bench: venv
	$(PY) benchmarks/bench.py --peers --write-readme

clean:
	rm -rf $(VENV) .venv-demo .bench build dist *.egg-info .pytest_cache .ruff_cache .hypothesis
