# Step "Run and attest the build" (mode: build).
# Runs: attest-build --tpm T [-a PATTERN]... -o OUT --key KEY -- bash -eo pipefail -c COMMAND
# Provenance (repository, commit, workflow, run) comes from the GITHUB_* (or
# GitLab's CI_*) variables the runner sets; attest-build reads them itself.
set -euo pipefail
source "$ACTION_PATH/scripts/action/lib.sh"
bin=${ATTEST_BUILD_BIN:?ATTEST_BUILD_BIN is not set}

[[ -n ${INPUT_COMMAND//[[:space:]]/} ]] || die "input 'command' is empty: name the build, e.g. command: make dist"

args=(--tpm "${INPUT_TPM:-auto}")
[[ -z ${INPUT_IMA_LOG:-} ]] || args+=(--ima-log "$INPUT_IMA_LOG")
[[ -z ${INPUT_PCRS:-} ]] || args+=(--pcrs "$INPUT_PCRS")

lines patterns "${INPUT_ARTIFACTS:-}"
for p in "${patterns[@]}"; do
	args+=(--artifact "$p")
done

# The key: PEM text (a secret) goes to a 0600 file in a 0700 folder that is
# removed when the step ends; a path is passed as it is. Never echoed.
if [[ -z ${INPUT_KEY:-} ]]; then
	[[ -n ${ATTEST_BUILD_KEY:-} ]] || die "input 'key' is empty: pass the signing key, e.g. key: \${{ secrets.ATTEST_BUILD_KEY }} (make one with: attest-build key generate --out signing)"
elif [[ $INPUT_KEY == *"-----BEGIN "* ]]; then
	key_dir=$(mktemp -d "${RUNNER_TEMP:-/tmp}/attest-build-key.XXXXXX")
	trap 'rm -rf "$key_dir"' EXIT
	(umask 077 && printf '%s\n' "$INPUT_KEY" >"$key_dir/signing.key")
	args+=(--key "$key_dir/signing.key")
elif [[ -f $INPUT_KEY ]]; then
	args+=(--key "$INPUT_KEY")
else
	die "input 'key' is neither PEM key text nor a readable file (the value is not shown)"
fi

out=${INPUT_OUTPUT:-}
if [[ -z $out ]]; then
	if [[ ${#patterns[@]} -eq 1 && ${patterns[0]} != *[\*\?\[]* ]]; then
		out="${patterns[0]}.intoto.jsonl"
	else
		out=attestation.intoto.jsonl
	fi
fi
args+=(--output "$out")

echo "running: attest-build ${args[*]} -- bash -eo pipefail -c \"\$INPUT_COMMAND\""
set +e
"$bin" "${args[@]}" -- bash --noprofile --norc -eo pipefail -c "$INPUT_COMMAND"
status=$?
set -e
if [[ $status -ne 0 ]]; then
	echo "::error title=attest-build::the build or its attestation failed (exit status $status); no attestation was written"
	exit "$status"
fi

abs=$(realpath -- "$out")
output attestation "$abs"
echo "attestation: $abs"
{
	echo "### attest-build: build attested"
	echo
	echo "Attestation: \`$abs\` (upload it beside the artifacts; verify it before deploy with mode: verify)."
	echo
	echo '```text'
	"$bin" inspect --max-entries 20 "$out"
	echo '```'
} | summary
