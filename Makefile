# attest-build: build, test and benchmark targets.
#   make test   every test (installs the Debian packages the tests need when run as root)
#   make e2e    the real-kernel end-to-end test alone
#   make bench  benchmarks (see docs/benchmarks.md)
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
export GOTOOLCHAIN := local
GO ?= go
BIN := bin/attest-build

# Debian packages the tests use: real TPMs (swtpm), independent checkers
# (tpm2-tools, ima-evm-utils), the real-kernel VM (qemu, cpio).
TEST_DEBS := swtpm swtpm-tools tpm2-tools ima-evm-utils qemu-system-x86 cpio

.PHONY: all build test deps vet e2e bench fuzz clean

all: build

build:
	CGO_ENABLED=1 $(GO) build -tags simulator -o $(BIN) ./cmd/attest-build

deps:
	@missing=""; for p in $(TEST_DEBS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "missing Debian packages:$$missing (run as root, or: sudo apt-get install$$missing)"; fi; \
	fi

vet:
	$(GO) vet -tags simulator ./...
	CGO_ENABLED=0 $(GO) build ./...

test: deps vet
	$(GO) test -race -tags simulator -timeout 30m ./...

# The real-kernel e2e alone (QEMU + swtpm + Debian's kernel; downloads cached in test/e2e/.work).
e2e: deps
	$(GO) test -count=1 -v -timeout 20m ./test/e2e/

clean:
	rm -rf bin
