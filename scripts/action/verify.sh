# Step "Verify before deploy" (mode: verify).
# Runs: attest-build verify --policy P [--attestation A | --bundle B...] [--ima-log L] [--baseline B]... [--key PUB]... ARTIFACT...
# The report goes to the log and the job summary; a failed check fails the job.
set -euo pipefail
source "$ACTION_PATH/scripts/action/lib.sh"
bin=${ATTEST_BUILD_BIN:?ATTEST_BUILD_BIN is not set}

[[ -n ${INPUT_POLICY:-} ]] || die "input 'policy' is empty: name the policy file (see docs/policy.md; 'attest-build policy init' writes one)"
lines artifacts "${INPUT_ARTIFACTS:-}"
[[ ${#artifacts[@]} -gt 0 ]] || die "input 'artifacts' is empty: name the artifacts to verify, one per line"

args=(verify --policy="$INPUT_POLICY" --format=text)
[[ -z ${INPUT_ATTESTATION:-} ]] || args+=(--attestation="$INPUT_ATTESTATION")
lines bundles "${INPUT_BUNDLES:-}"
if [[ ${#bundles[@]} -gt 0 && -n ${INPUT_ATTESTATION:-} ]]; then
	die "inputs 'bundles' and 'attestation' both given: verify the attestation file or its Sigstore bundles, not both"
fi
for b in "${bundles[@]}"; do
	args+=(--bundle="$b")
done
[[ -z ${INPUT_IMA_LOG:-} ]] || args+=(--ima-log="$INPUT_IMA_LOG")
lines baselines "${INPUT_BASELINE:-}"
for b in "${baselines[@]}"; do
	args+=(--baseline="$b")
done
lines keys "${INPUT_PUBLIC_KEY:-}"
for k in "${keys[@]}"; do
	args+=(--key="$k")
done

set +e
report=$("$bin" "${args[@]}" -- "${artifacts[@]}" 2>&1)
status=$?
set -e
log_untrusted "$report"
verdict=fail
[[ $status -ne 0 ]] || verdict=pass
output verdict "$verdict"
{
	if [[ $verdict == pass ]]; then
		echo "### attest-build verify: pass"
	else
		echo "### attest-build verify: FAIL (exit status $status)"
	fi
	echo
	printf '%s\n' "$report" | fenced text
} | summary
if [[ $status -ne 0 ]]; then
	echo "::error title=attest-build verify::verification failed (exit status $status); the report is in the job summary"
	exit "$status"
fi
