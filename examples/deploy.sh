#!/usr/bin/env bash
# A deploy script that refuses to deploy an artifact whose attestation does
# not verify. Usage:
#   examples/deploy.sh POLICY SIGNER_PUB ARTIFACT [ATTESTATION]
# Exit status: 0 deployed; 1 verification failed (nothing deployed); 2 usage.
# Set CROSSCHECK=1 to also check the end quote with tpm2-tools (tpm2_checkquote,
# tpm2_print), independently of attest-build.
set -euo pipefail
if [[ $# -lt 3 || $# -gt 4 ]]; then
	echo "usage: $0 POLICY SIGNER_PUB ARTIFACT [ATTESTATION]" >&2
	exit 2
fi
policy=$1 pub=$2 artifact=$3 attestation=${4:-$3.intoto.jsonl}
bin=${ATTEST_BUILD:-attest-build}
# Usage errors (exit 2) before anything runs: what is missing, and how to fix it.
usage_error() { echo "deploy.sh: $*" >&2; exit 2; }
command -v "$bin" >/dev/null 2>&1 ||
	usage_error "$bin not found: put attest-build on PATH (make build writes bin/attest-build) or set ATTEST_BUILD=PATH"
for f in "$policy" "$pub" "$artifact" "$attestation"; do
	[[ -f $f && -r $f ]] || usage_error "$f: not a readable file"
done

# 1. The verdict: exit 0 only when every check passes.
report=$(mktemp)
trap 'rm -rf "$report" "${tmp:-}"' EXIT
if ! "$bin" verify --policy "$policy" --key "$pub" --attestation "$attestation" \
	--format json "$artifact" >"$report"; then
	echo "refusing to deploy $artifact: verification failed" >&2
	jq -r '.results[].checks[] | select(.status == "fail")
		| "  \(.check): \(.detail // "")\n    expected: \(.expected // "-")\n    found:    \(.found // "-")"' "$report" >&2 || cat "$report" >&2
	exit 1
fi
jq -r '.results[] | "verified: \(.artifacts | join(", ")) built by \(.facts.builderId) (TPM mode \(.facts.tpmMode), AK \(.facts.akFingerprint))"' "$report"

# 2. Optional: an independent check of the end quote with tpm2-tools. The
#    qualification is the artifact's SHA-256 (one subject). attest-build verify
#    has already checked all of this; this shows anyone can, without it.
if [[ ${CROSSCHECK:-0} == 1 ]]; then
	tmp=$(mktemp -d)
	jq -r 'select(.payloadType == "application/vnd.in-toto+json") | .payload' "$attestation" |
		while read -r p; do base64 -d <<<"$p"; echo; done |
		jq -c 'select(.predicateType == "https://github.com/attest-build/attest-build/predicates/tpm-ima/v0.1") | .predicate' >"$tmp/pred.json"
	jq -r .attestationKey.publicKeyPem "$tmp/pred.json" >"$tmp/ak.pem"
	jq -r .quotes.end.attest "$tmp/pred.json" | base64 -d >"$tmp/attest.bin"
	jq -r .quotes.end.signature "$tmp/pred.json" | base64 -d >"$tmp/sig.bin"
	# tpm2_checkquote: the AK's signature over the quote, and the quote's
	# nonce equal to the artifact's SHA-256.
	tpm2_checkquote -u "$tmp/ak.pem" -m "$tmp/attest.bin" -s "$tmp/sig.bin" -g sha256 \
		-q "$(sha256sum "$artifact" | cut -d' ' -f1)" >/dev/null
	# The carried PCR values are the ones the quote signed: their digest (the
	# values concatenated in selection order, sha256 for a P-256 or RSA-SHA256
	# AK) equals the quote's pcrDigest, as tpm2_print decodes it.
	jq -r '.quotes.end.pcrs[].value' "$tmp/pred.json" | tr -d '\n' | xxd -r -p >"$tmp/pcrs.bin"
	quoted=$(tpm2_print -t TPMS_ATTEST "$tmp/attest.bin" | awk '/pcrDigest:/ { print $2 }')
	carried=$(sha256sum "$tmp/pcrs.bin" | cut -d' ' -f1)
	if [[ $quoted != "$carried" ]]; then
		echo "refusing to deploy: the carried PCR values (digest $carried) are not the quoted ones ($quoted)" >&2
		exit 1
	fi
	echo "tpm2-tools: the end quote verifies with the artifact's SHA-256 as its nonce, over the carried PCR values"
fi

# 3. Deploy (replace with yours).
echo "deploying $artifact"
