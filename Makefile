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

# Debian packages make test installs when missing (run as root; otherwise
# scripts/install-debs.sh names them and the tests that need them skip):
#   swtpm, swtpm-tools      a real TPM 2.0 for the tests (and the e2e VM's TPM)
#   tpm2-tools, ima-evm-utils  independent checkers: tpm2_checkquote, evmctl
#   zstd                    the reference decompressor of the carried IMA log
#   qemu-system-x86, cpio   the real-kernel e2e: the VM and its initramfs
#   ovmf, mtools, dosfstools  UEFI Secure Boot e2e: firmware and the FAT boot disk
#   shellcheck              the Action's linter (actionlint is built from the
#                           module proxy by test/action)
# README.md lists the same, with the reason for each.
TEST_DEBS := swtpm swtpm-tools tpm2-tools ima-evm-utils zstd qemu-system-x86 cpio ovmf mtools dosfstools shellcheck
# make bench needs these as well: timing (hyperfine) and peak RSS (GNU time).
BENCH_DEBS := hyperfine time

.PHONY: all build demo test test-cold deps bench-deps vet e2e bench fuzz clean

all: build

build:
	CGO_ENABLED=1 $(GO) build -buildvcs=auto -tags simulator -o $(BIN) ./cmd/attest-build

deps:
	@./scripts/install-debs.sh "make test" $(TEST_DEBS)

bench-deps:
	@./scripts/install-debs.sh "make bench" $(TEST_DEBS) $(BENCH_DEBS)

vet:
	$(GO) vet -tags simulator ./...
	CGO_ENABLED=0 $(GO) build ./...

demo:
	./scripts/quickstart.sh

test: deps vet
	$(GO) test -race -count=1 -tags simulator -timeout 60m ./...

# The Action's install step for real: attest-build compiled from empty Go caches
# (minutes; not part of make test).
test-cold:
	ATTEST_BUILD_COLD_BUILD=1 $(GO) test -count=1 -timeout 40m -run TestActionBuildsInFreshCaches -v ./test/action/

# The real-kernel e2e alone (QEMU + swtpm + Debian's kernel; downloads cached in test/e2e/.work).
e2e: deps
	$(GO) test -count=1 -v -timeout 20m ./test/e2e/

# Whole-process comparisons (scripts/bench-*.sh) and the Go benchmarks that
# docs/benchmarks.md quotes. Needs hyperfine, GNU time, evmctl, swtpm (make bench-deps).
bench: bench-deps
	./scripts/bench-ima.sh
	./scripts/bench-verify.sh
	./scripts/bench-allowlist.sh
	./scripts/bench-rootfs.sh
	./scripts/bench-incremental.sh
	$(GO) test -tags simulator -run '^$$' -bench . -benchtime 20x ./tpm/
	$(GO) test -tags simulator -run '^$$' -bench 'AttestOverhead|HashSubjects1GiB' -benchtime 3x ./provenance/

FUZZTIME ?= 30s
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do 	  for t in $$($(GO) test -tags simulator -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do 	    echo "== $$pkg $$t"; $(GO) test -tags simulator -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 10x $$pkg; 	  done; 	done

clean:
	rm -rf bin
