# The two commands a fresh machine needs: `make run` and `make test`.
# Both create (or refresh) .venv by themselves.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# jq counts SBOM components; chromium is the browser the web tests drive (Playwright);
# the IPA font renders Japanese pages in the browser tests' screenshots; postgresql-client
# gives pg_dump and pg_restore to the backup-and-restore test; gnupg is the gpg that signs CSAF
# documents (python-gnupg drives it).
DEBIAN_PACKAGES := jq chromium fonts-ipafont-gothic postgresql-client gnupg

.PHONY: run test venv system-packages bench clean

run: $(STAMP)
	$(BIN)/python scripts/demo.py

test: $(STAMP) system-packages
	scripts/gate

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python benchmarks/run_all.py

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Debian packages the tests use (see DEBIAN_PACKAGES), installed when missing.
system-packages:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov build src/*.egg-info
