#!/bin/sh
# bench-verify.sh: attest-build verify of an attestation carrying a synthetic
# 200,000-entry IMA log, against attest-build ima replay of the same log as a
# whole process, in the same hyperfine run (issue 5: verify <= 2x replay),
# plus peak RSS. Needs cgo (the simulator makes the attestation), hyperfine
# and GNU time (apt-get install hyperfine time).
#
#   scripts/bench-verify.sh [ENTRIES]
set -eu
n=${1:-200000}
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

go build -tags simulator -o "$dir/attest-build" ./cmd/attest-build
go run ./evidence/internal/imagen/cmd/imagen -n "$n" -o "$dir/ima.bin" >/dev/null
# The build library attests a build around the log with the simulator (all but
# the last 1,000 entries before the build), and writes out.bin, its
# attestation and the signer's public key.
ATTEST_BUILD_BENCH_LOG="$dir/ima.bin" ATTEST_BUILD_BENCH_DIR="$dir" \
	go test -tags simulator -count=1 -run '^TestWriteBenchFixture$' ./provenance/verify/ >/dev/null
"$dir/attest-build" policy init --scope window --from "$dir/out.bin.intoto.jsonl" --key "$dir/signer.pub" -o "$dir/policy-window.yaml"
echo "log: $n entries, $(wc -c <"$dir/ima.bin") bytes; attestation $(wc -c <"$dir/out.bin.intoto.jsonl") bytes"

# verify must pass before its speed means anything.
"$dir/attest-build" verify --policy "$dir/policy-window.yaml" --key "$dir/signer.pub" "$dir/out.bin" >/dev/null

hyperfine -N --warmup 3 --runs "${RUNS:-30}" --export-json "$dir/hf.json" \
	-n replay "$dir/attest-build ima replay --log $dir/ima.bin --bank sha256" \
	-n verify "$dir/attest-build verify --policy $dir/policy-window.yaml --key $dir/signer.pub $dir/out.bin"

python3 - "$dir/hf.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
p, v = r["replay"], r["verify"]
print(f"ratio verify/replay: mean {v['mean']/p['mean']:.2f}, median {v['median']/p['median']:.2f}, min {v['min']/p['min']:.2f} (target <= 2)")
PY
for c in "ima replay --log $dir/ima.bin --bank sha256" "verify --policy $dir/policy-window.yaml --key $dir/signer.pub $dir/out.bin"; do
	/usr/bin/time -f "peak RSS %M KiB: attest-build ${c%% --*}" "$dir/attest-build" $c >/dev/null
done
