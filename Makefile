# attest-build: build, test and benchmark targets.
#   make demo   the main job on the embedded TPM simulator (scripts/quickstart.sh)
#   make test   every test (installs the Debian packages the tests need when run as root)
#   make e2e    the real-kernel end-to-end test alone
#   make bench  benchmarks against their references (see docs/benchmarks.md)
#   make fuzz   every fuzz target for FUZZTIME (default 30s) each
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
export GOTOOLCHAIN := local
GO ?= go
BIN := bin/attest-build

# Debian packages the tests and benchmarks use: real TPMs (swtpm), independent
# checkers (tpm2-tools, ima-evm-utils), the real-kernel VM (qemu, cpio; UEFI
# Secure Boot: ovmf, and mtools + dosfstools for the FAT boot disk), timing
# (hyperfine, GNU time), the Action's linters (shellcheck; actionlint is built
# from the module proxy by test/action).
TEST_DEBS := swtpm swtpm-tools tpm2-tools ima-evm-utils zstd qemu-system-x86 cpio ovmf mtools dosfstools hyperfine time shellcheck

.PHONY: all build demo test test-cold deps vet e2e bench fuzz clean

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

demo:
	./scripts/quickstart.sh

test: deps vet
	$(GO) test -race -count=1 -tags simulator -timeout 30m ./...

# The Action's install step for real: attest-build compiled from empty Go caches
# (minutes; not part of make test).
test-cold:
	ATTEST_BUILD_COLD_BUILD=1 $(GO) test -count=1 -timeout 40m -run TestActionBuildsInFreshCaches -v ./test/action/

# The real-kernel e2e alone (QEMU + swtpm + Debian's kernel; downloads cached in test/e2e/.work).
e2e: deps
	$(GO) test -count=1 -v -timeout 20m ./test/e2e/

# Whole-process comparisons (scripts/bench-*.sh) and the Go benchmarks that
# docs/benchmarks.md quotes. Needs hyperfine, evmctl, swtpm (make deps).
bench: deps
	./scripts/bench-ima.sh
	./scripts/bench-verify.sh
	./scripts/bench-allowlist.sh
	./scripts/bench-rootfs.sh
	$(GO) test -tags simulator -run '^$$' -bench . -benchtime 20x ./tpm/
	$(GO) test -tags simulator -run '^$$' -bench 'AttestOverhead|HashSubjects1GiB' -benchtime 3x ./provenance/

FUZZTIME ?= 30s
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do 	  for t in $$($(GO) test -tags simulator -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do 	    echo "== $$pkg $$t"; $(GO) test -tags simulator -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 10x $$pkg; 	  done; 	done

clean:
	rm -rf bin
