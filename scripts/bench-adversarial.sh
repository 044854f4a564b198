#!/bin/sh
# bench-adversarial.sh: attest-build verify on the adversarial attestations
# of issue 12 (written by TestWriteAdversarialFixtures with the simulator):
# each must be refused (exit 1) in under 3 s and 300 MiB peak RSS. Prints
# wall time, CPU time (user + system), peak RSS and the failed check of each. Needs cgo and GNU time
# (apt-get install time).
#
#   scripts/bench-adversarial.sh
set -eu
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

go build -o "$dir/attest-build" ./cmd/attest-build
ATTEST_BUILD_ADVERSARIAL_DIR="$dir" go test -tags simulator -count=1 -run '^TestWriteAdversarialFixtures$' ./provenance/... >/dev/null
verify() { "$dir/attest-build" verify --policy "$dir/policy.yaml" --key "$dir/signer.pub" --format json --attestation "$1" "$dir/out.bin"; }

# The good attestation must pass first.
verify "$dir/good.jsonl" >/dev/null
printf '%-42s %10s %8s %8s %8s  %s\n' file bytes seconds "CPU s" "RSS MiB" "refused by"
status=0
for f in "$dir"/adv-*.jsonl; do
	set +e
	/usr/bin/time -f '%e %M %U %S' -o "$dir/time" "$dir/attest-build" verify --policy "$dir/policy.yaml" --key "$dir/signer.pub" \
		--format json --attestation "$f" "$dir/out.bin" >"$dir/out.json" 2>/dev/null
	rc=$?
	set -e
	read -r secs kib usr sys <<EOT
$(tail -n 1 "$dir/time")
EOT
	check=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print(next((c["check"] for c in r["checks"] if c["status"]=="fail"), "none"))' "$dir/out.json")
	cpu=$(python3 -c 'import sys; print(f"{float(sys.argv[1])+float(sys.argv[2]):.2f}")' "$usr" "$sys")
	printf '%-42s %10s %8s %8s %8s  %s\n' "$(basename "$f")" "$(wc -c <"$f")" "$secs" "$cpu" "$((kib / 1024))" "$check (exit $rc)"
	if [ "$rc" -ne 1 ]; then echo "  NOT REFUSED" >&2; status=1; fi
	if [ "$((kib / 1024))" -ge 300 ]; then echo "  over 300 MiB" >&2; status=1; fi
	if ! python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 3 else 1)' "$secs"; then echo "  3 s or more" >&2; status=1; fi
done
exit $status
