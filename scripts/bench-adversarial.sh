#!/bin/sh
# bench-adversarial.sh: attest-build verify on the adversarial attestations
# of issue 12 (written by TestWriteAdversarialFixtures with the simulator):
# each must be refused (exit 1) in under 3 s and 300 MiB peak RSS. Prints
# wall time, CPU time (user + system), peak RSS and the failed check of each. Needs cgo and GNU time
# (apt-get install time).
#
#   scripts/bench-adversarial.sh [REV]
#
# With REV (a commit, e.g. main), attest-build is also built from that
# revision (git archive, in a temporary folder) and run on the same files
# in the same run, each case right after this tree's: a before/after
# comparison on one machine state. Only this tree's rows are held to the
# targets.
set -eu
cd "$(dirname "$0")/.."
ref=${1:-}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

go build -o "$dir/attest-build" ./cmd/attest-build
if [ -n "$ref" ]; then
	mkdir "$dir/ref"
	git archive "$ref" | tar -x -C "$dir/ref"
	(cd "$dir/ref" && go build -o "$dir/attest-build-ref" ./cmd/attest-build)
fi
ATTEST_BUILD_ADVERSARIAL_DIR="$dir" go test -tags simulator -count=1 -run '^TestWriteAdversarialFixtures$' ./provenance/... >/dev/null

# The good attestation must pass first.
"$dir/attest-build" verify --policy "$dir/policy.yaml" --key "$dir/signer.pub" --format json --attestation "$dir/good.jsonl" "$dir/out.bin" >/dev/null
printf '%-42s %-5s %10s %8s %8s %8s  %s\n' file tree bytes seconds "CPU s" "RSS MiB" "refused by"
status=0
# measure BIN TREE FILE: one verify under GNU time, one row.
measure() {
	set +e
	/usr/bin/time -f '%e %M %U %S' -o "$dir/time" "$1" verify --policy "$dir/policy.yaml" --key "$dir/signer.pub" \
		--format json --attestation "$3" "$dir/out.bin" >"$dir/out.json" 2>/dev/null
	rc=$?
	set -e
	read -r secs kib usr sys <<EOT
$(tail -n 1 "$dir/time")
EOT
	check=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print(next((c["check"] for c in r["checks"] if c["status"]=="fail"), "none"))' "$dir/out.json")
	cpu=$(python3 -c 'import sys; print(f"{float(sys.argv[1])+float(sys.argv[2]):.2f}")' "$usr" "$sys")
	printf '%-42s %-5s %10s %8s %8s %8s  %s\n' "$(basename "$3")" "$2" "$(wc -c <"$3")" "$secs" "$cpu" "$((kib / 1024))" "$check (exit $rc)"
}
for f in "$dir"/adv-*.jsonl; do
	measure "$dir/attest-build" this "$f"
	if [ "$rc" -ne 1 ]; then echo "  NOT REFUSED" >&2; status=1; fi
	if [ "$((kib / 1024))" -ge 300 ]; then echo "  over 300 MiB" >&2; status=1; fi
	if ! python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 3 else 1)' "$secs"; then echo "  3 s or more" >&2; status=1; fi
	if [ -n "$ref" ]; then measure "$dir/attest-build-ref" ref "$f"; fi
done
exit $status
