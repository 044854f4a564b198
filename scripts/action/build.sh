# Step "Run and attest the build" (mode: build).
# Runs: ATTEST_BUILD_KEY=KEY attest-build --tpm=T [--ak-cert=F] [--bundle] [--detach-log] [--baseline-dir=DIR] [--artifact=PATTERN]... --output=$RUNNER_TEMP/attest-build-out.XXXXXXXX/NAME -- bash -eo pipefail -c COMMAND
# KEY defaults to "tpm" (the TPM-resident key) on a runner with a TPM device.
# Provenance (repository, commit, workflow, run) comes from the GITHUB_* (or
# GitLab's CI_*) variables the runner sets; attest-build reads them itself.
set -euo pipefail
source "$ACTION_PATH/scripts/action/lib.sh"
bin=${ATTEST_BUILD_BIN:?ATTEST_BUILD_BIN is not set}

[[ -n ${INPUT_COMMAND//[[:space:]]/} ]] || die "input 'command' is empty: name the build, e.g. command: make dist"

args=(--tpm="${INPUT_TPM:-auto}")
[[ -z ${INPUT_IMA_LOG:-} ]] || args+=(--ima-log="$INPUT_IMA_LOG")
[[ -z ${INPUT_PCRS:-} ]] || args+=(--pcrs="$INPUT_PCRS")
case ${INPUT_LEFTOVERS:-end} in
end | refuse) args+=(--leftovers="${INPUT_LEFTOVERS:-end}") ;;
*) die "input 'leftovers' is '$(printable "$INPUT_LEFTOVERS")'; want end or refuse" ;;
esac

bool_flag bundle "${INPUT_BUNDLE:-false}" && args+=(--bundle)
bool_flag detach-log "${INPUT_DETACH_LOG:-false}" && args+=(--detach-log)

# This boot's IMA baselines: a directory of the runner kept across jobs. In
# the workspace a build (or the next checkout) can change or remove them:
# nothing is forged that way (each is signed, quoted and named by digest by
# the attestations continuing it), but the attestations no longer verify.
baseline_dir=""
if [[ -n ${INPUT_BASELINE_DIR:-} ]]; then
	baseline_dir=$(realpath -m -- "$INPUT_BASELINE_DIR")
	args+=(--baseline-dir="$baseline_dir")
	case $baseline_dir/ in
	"$(realpath -m -- "${GITHUB_WORKSPACE:-/nonexistent}")"/*)
		echo "::warning title=attest-build::the baseline directory is inside the workspace, where a build or a checkout can change or remove it, and then the attestations continuing its baselines no longer verify: keep it outside, on the runner (e.g. /var/lib/attest-build/baselines)" ;;
	esac
fi

lines patterns "${INPUT_ARTIFACTS:-}"
for p in "${patterns[@]}"; do
	args+=(--artifact="$p")
done

# The key and its password reach attest-build only, through ATTEST_BUILD_KEY
# and ATTEST_BUILD_KEY_PASSWORD set for its process alone: never in a file, in
# argv (which every user can read with ps) or in the output. attest-build
# removes both, and INPUT_KEY*, from the build's environment; they are unset
# here first so nothing else this script runs inherits them.
key=${INPUT_KEY:-} password=${INPUT_KEY_PASSWORD:-}
unset INPUT_KEY INPUT_KEY_PASSWORD
# has_tpm: the runner has a TPM the key can live in (the simulator does not count).
has_tpm() {
	case ${INPUT_TPM:-auto} in
	auto) [[ -e /dev/tpmrm0 || -e /dev/tpm0 ]] ;;
	sim) return 1 ;;
	*) return 0 ;;
	esac
}
if [[ -z $key ]]; then
	if [[ -n ${ATTEST_BUILD_KEY:-} ]]; then
		key=$ATTEST_BUILD_KEY
	elif has_tpm; then
		# The default on a runner with a TPM: the key lives in the TPM and
		# its authorization value in a 0600 file of the runner's user.
		key=tpm
	else
		die "input 'key' is empty and the runner has no TPM device for the TPM-resident key: pass the signing key, e.g. key: \${{ secrets.ATTEST_BUILD_KEY }} (make one with: attest-build key generate --out signing)"
	fi
fi
[[ -z ${INPUT_AK_CERT:-} ]] || args+=(--ak-cert "$INPUT_AK_CERT")
if [[ $key == tpm ]]; then
	:
elif [[ $key == *"-----BEGIN "* ]]; then
	# The runner prints a step's with: inputs in the log unless the value
	# came from secrets (masked): a key written in a workflow file is
	# public. Look for its first base64 line under .github/ (the pattern
	# goes to grep through a pipe, never argv).
	# sed reads the whole key (no q): a reader that quits before printf
	# has written it all ends printf with SIGPIPE, which pipefail and set -e
	# made the step's exit status (141, seen under load).
	probe=$(printf '%s\n' "$key" | sed -n '/-----BEGIN /{n;p;}')
	probe=${probe%%$'\n'*}
	if [[ ${#probe} -ge 16 && -d ${GITHUB_WORKSPACE:-/nonexistent}/.github ]] &&
		grep -rqsF -f <(printf '%s\n' "$probe") -- "$GITHUB_WORKSPACE/.github"; then
		unset probe
		die "input 'key' is a private key written in the repository's .github folder, so the runner prints it in the log: store it as a secret and pass key: \${{ secrets.ATTEST_BUILD_KEY }} (and replace this key: it is public)"
	fi
	unset probe
else
	[[ -f $key && -r $key ]] || die "input 'key' is neither PEM key text nor a readable file (the value is not shown)"
	case $(realpath -- "$key")/ in
	"$(realpath -- "${GITHUB_WORKSPACE:-/nonexistent}")"/*)
		echo "::warning title=attest-build::the signing key file is inside the workspace, where the build can read it; a build that can read the key can sign anything (keep it outside, readable only by the runner's user, and run builds as another user)" ;;
	esac
fi
[[ -n $password ]] || password=${ATTEST_BUILD_KEY_PASSWORD:-}
unset ATTEST_BUILD_KEY ATTEST_BUILD_KEY_PASSWORD

# The attestation is written to a folder of the runner's temporary directory
# made for this step (mode 0700), which a build run as another user cannot
# write, never to a build-writable path: a process the build left behind
# could replace it there with a link to the key, and upload steps follow
# links. attest-build ends every process the build left running before it
# hashes (or refuses). The output input names the file; only its last
# element is used.
name=${INPUT_OUTPUT:-}
if [[ -z $name ]]; then
	# Pattern characters: docs/policy.md#patterns (internal/pathglob).
	if [[ ${#patterns[@]} -eq 1 && ${patterns[0]} != *[\*\?\[\{\}\\]* ]]; then
		name="${patterns[0]}.intoto.jsonl"
	else
		name=attestation.intoto.jsonl
	fi
fi
name=${name##*/}
[[ -n $name && $name != . && $name != .. ]] || die "input 'output' names no file"
out_dir=$(mktemp -d "${RUNNER_TEMP:?RUNNER_TEMP is not set}/attest-build-out.XXXXXXXX")
out="$out_dir/$name"
args+=(--output="$out")

echo "running: attest-build $(printable "${args[*]}") -- bash -eo pipefail -c \"\$INPUT_COMMAND\""
set +e
(
	export ATTEST_BUILD_KEY=$key
	[[ -z $password ]] || export ATTEST_BUILD_KEY_PASSWORD=$password
	exec "$bin" "${args[@]}" -- bash --noprofile --norc -eo pipefail -c "$INPUT_COMMAND"
)
status=$?
set -e
unset key password
if [[ $status -ne 0 ]]; then
	echo "::error title=attest-build::the build or its attestation failed (exit status $status); no attestation was written"
	exit "$status"
fi
# Only a plain regular file is handed on (never a link, a FIFO, a folder).
if [[ -L $out || ! -f $out ]]; then
	echo "::error title=attest-build::the attestation $(printable "$out") is not a regular file; refusing it"
	exit 1
fi

# What --bundle and --detach-log wrote beside it, in the same folder, named
# by attest-build's rule (docs/attestation.md): BASE.tpm-ima.sigstore.json,
# BASE.slsa.sigstore.json and BASE.ima.binary_runtime_measurements, BASE
# being the attestation's path without .intoto.jsonl. Each must be a plain
# regular file too; the detached log exists only when a log was carried.
base=${out%.intoto.jsonl}
files=("$out")
bundles=()
if [[ ${INPUT_BUNDLE:-false} == true ]]; then
	bundles=("$base.tpm-ima.sigstore.json" "$base.slsa.sigstore.json")
fi
ima_log=""
if [[ ${INPUT_DETACH_LOG:-false} == true && -e $base.ima.binary_runtime_measurements ]]; then
	ima_log="$base.ima.binary_runtime_measurements"
fi
for f in "${bundles[@]}" ${ima_log:+"$ima_log"}; do
	if [[ -L $f || ! -f $f ]]; then
		echo "::error title=attest-build::$(printable "$f") is not a regular file; refusing it"
		exit 1
	fi
	files+=("$f")
done

# With baseline-dir, this boot's baselines (attest-build names them
# BOOT-ID-AK-POSITION-RANDOM.baseline.intoto.jsonl, the position zero-padded:
# the glob's order is the chain's), for verify --baseline. Plain regular
# files only, as above.
baselines=()
if [[ -n $baseline_dir ]]; then
	boot_id=$(</proc/sys/kernel/random/boot_id)
	for f in "$baseline_dir/$boot_id"-*.baseline.intoto.jsonl; do
		[[ -e $f || -L $f ]] || continue
		if [[ -L $f || ! -f $f ]]; then
			echo "::error title=attest-build::$(printable "$f") is not a regular file; refusing it"
			exit 1
		fi
		baselines+=("$f")
	done
fi

output attestation "$out"
output bundles "$(printf '%s\n' "${bundles[@]}")"
output ima-log "$ima_log"
output files "$(printf '%s\n' "${files[@]}")"
output baselines "$(printf '%s\n' "${baselines[@]}")"
for f in "${files[@]}"; do
	echo "wrote: $(printable "$f")"
done
{
	echo "### attest-build: build attested"
	echo
	echo "Attestation (in the runner's temporary folder; upload it beside the artifacts and verify it before deploy with mode: verify):"
	echo
	printf '%s\n' "${files[@]}" | fenced text
	echo
	if [[ ${#baselines[@]} -gt 0 ]]; then
		echo "IMA baselines the attestation continues (verify needs them: input baseline):"
		echo
		printf '%s\n' "${baselines[@]}" | fenced text
		echo
	fi
	"$bin" inspect --max-entries 20 -- "$out" | fenced text
} | summary
