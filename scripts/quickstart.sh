#!/usr/bin/env bash
# The README's first quick-start command (make demo): attest-build's main job,
# for real, on the embedded TPM simulator. It
#   1. builds attest-build with the simulator (cgo, build tag "simulator"),
#   2. generates a signing key,
#   3. runs the example build (examples/hello: make dist) under attest-build
#      with --tpm sim, which quotes before and after and signs the attestation,
#   4. verifies the artifact under examples/policy-sim.yaml (a policy that
#      accepts simulator mode, and says so),
#   5. prints where the attestation is and what it holds (attest-build inspect).
# Everything it writes goes under .cache/quickstart/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$root/.cache/quickstart
bin=$root/bin/attest-build
export PATH=$PATH:/usr/local/go/bin GOTOOLCHAIN=local

# Bold step headings only on a terminal: a log or a pipe gets plain text.
if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"; }
# Debian packages the demo needs beyond Go: a C compiler (the simulator is C,
# built with cgo), make (the example build) and tar. Installed when run as
# root, as make test does for its own packages; otherwise named.
missing=()
for cmd_pkg in gcc:gcc make:make tar:tar gzip:gzip; do
	command -v "${cmd_pkg%%:*}" >/dev/null 2>&1 || missing+=("${cmd_pkg#*:}")
done
if [[ ${#missing[@]} -gt 0 ]]; then
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		scripts/install-debs.sh "the quick start" "${missing[@]}" libc6-dev || exit 1
	else
		echo "quickstart: missing ${missing[*]}: sudo apt-get install ${missing[*]}" >&2
		exit 1
	fi
fi
command -v go >/dev/null || { echo "quickstart: Go is not installed (Go 1.26 or later: https://go.dev/dl/)" >&2; exit 1; }

step "1/5 build attest-build with the embedded TPM simulator (cgo, -tags simulator)"
CGO_ENABLED=1 go build -buildvcs=auto -tags simulator -o "$bin" ./cmd/attest-build
echo "$bin"

step "2/5 generate a signing key"
rm -rf "$work"
mkdir -p "$work"
cp -R examples/hello "$work/hello"
rm -rf "$work/hello/build" "$work/hello/dist"
"$bin" key generate --out "$work/signing"

step "3/5 attest the example build on the simulator: attest-build --tpm sim -- make dist"
# With --tpm sim attest-build does not read the kernel's IMA log (the kernel
# extends the machine's PCR 10, never the simulator's): the attestation says
# "no IMA log" and why. On a runner with a TPM, the log is read and bound.
(cd "$work/hello" && "$bin" --tpm sim --key "$work/signing.key" --artifact dist/hello.tar.gz -- make dist)
artifact=$work/hello/dist/hello.tar.gz
attestation=$artifact.intoto.jsonl

step "4/5 verify it under examples/policy-sim.yaml (accepts simulator mode: proves nothing about hardware)"
"$bin" verify --policy examples/policy-sim.yaml --key "$work/signing.pub" "$artifact"

step "5/5 what the attestation holds (attest-build inspect; inspect itself verifies nothing)"
"$bin" inspect "$attestation"

step "done"
cat <<MSG
artifact:     $artifact
attestation:  $attestation  (two DSSE envelopes: TPM/IMA predicate, SLSA provenance v1)
signing key:  $work/signing.key (public: $work/signing.pub)
policy:       $root/examples/policy-sim.yaml

Try: $bin verify --policy examples/policy-sim.yaml --key $work/signing.pub $root/README.md \\
       --attestation $attestation     # fails: README.md is not a subject
Next: docs/how-it-works.md, docs/github-action.md, docs/runner-setup.md for a real TPM.
MSG
