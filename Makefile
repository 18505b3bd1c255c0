# The README's two set-up commands: `make demo` and `make test`. Both build .venv/ first.
# Tools run as `python -m ...`: console-script shebangs are not trusted across pip upgrades.
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
DEMO_DIR ?= demo-data

.PHONY: install demo demo-once test test-servers lint bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

demo: install
	$(PY) -m bot.cli demo --data-dir $(DEMO_DIR)

demo-once: install
	$(PY) -m bot.cli demo --once --data-dir $(DEMO_DIR)

# Dovecot is the real IMAP server of the integration tests; installed where we may (root + apt).
test-servers:
	@if ! command -v dovecot >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing dovecot-imapd for the IMAP integration tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dovecot-imapd dovecot-lmtpd) >/dev/null \
	      || echo "dovecot install failed: IMAP tests will skip (or fail under CI)"; \
	    for s in dovecot; do (systemctl stop $$s || service $$s stop || true) >/dev/null 2>&1; done; \
	  else \
	    echo "dovecot not installed and not root: IMAP tests will skip (CI requires them)"; \
	  fi; \
	fi

test: install test-servers
	$(PY) -m pytest -q

lint: install
	$(PY) -m ruff check bot classifiers storage tests bench examples
	$(PY) -m mypy

bench: install
	$(PY) bench/bench_classify.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
