#!/bin/sh
# bench-allowlist.sh: attest-build verify of an attestation carrying a
# synthetic 200,000-entry IMA log under a boot-scope policy that allowlists
# every one of its ~200,000 paths, the allowlist as a Keylime runtime policy
# (what policy init -o writes) and inline in the YAML (ima.allow), against
# attest-build ima replay of the same log, in the same hyperfine run
# (issue 16: <= 2x replay, <= 64 MiB RSS), and policy check of each
# (< 0.5 s). Needs cgo (the simulator makes the attestation), hyperfine and
# GNU time (apt-get install hyperfine time).
#
#   scripts/bench-allowlist.sh [ENTRIES]
set -eu
n=${1:-200000}
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

go build -tags simulator -o "$dir/attest-build" ./cmd/attest-build
go run ./evidence/internal/imagen/cmd/imagen -n "$n" -o "$dir/ima.bin" >/dev/null
ATTEST_BUILD_BENCH_LOG="$dir/ima.bin" ATTEST_BUILD_BENCH_DIR="$dir" \
	go test -tags simulator -count=1 -run '^TestWriteBenchFixture$' ./provenance/verify/ >/dev/null
ab="$dir/attest-build"
# -o: the allowlist goes to policy-json.runtime-policy.json; to stdout: inline.
$ab policy init --scope boot --from "$dir/out.bin.intoto.jsonl" --key "$dir/signer.pub" -o "$dir/policy-json.yaml"
$ab policy init --scope boot --from "$dir/out.bin.intoto.jsonl" --key "$dir/signer.pub" >"$dir/policy-yaml.yaml"
# The synthetic log has violations: the policies must accept them to pass.
sed -i 's/allowViolations: false/allowViolations: true/' "$dir/policy-json.yaml" "$dir/policy-yaml.yaml"
echo "log: $n entries; attestation $(wc -c <"$dir/out.bin.intoto.jsonl") bytes;" \
	"policies: $(wc -c <"$dir/policy-json.yaml") + $(wc -c <"$dir/policy-json.runtime-policy.json") bytes (Keylime JSON), $(wc -c <"$dir/policy-yaml.yaml") bytes (YAML)"

# verify must pass under both before its speed means anything.
for p in json yaml; do
	$ab verify --policy "$dir/policy-$p.yaml" --key "$dir/signer.pub" "$dir/out.bin" >/dev/null
done

hyperfine -N --warmup 2 --runs "${RUNS:-20}" --export-json "$dir/hf.json" \
	-n replay "$ab ima replay --log $dir/ima.bin --bank sha256" \
	-n verify-json "$ab verify --policy $dir/policy-json.yaml --key $dir/signer.pub $dir/out.bin" \
	-n verify-yaml "$ab verify --policy $dir/policy-yaml.yaml --key $dir/signer.pub $dir/out.bin" \
	-n check-json "$ab policy check $dir/policy-json.yaml" \
	-n check-yaml "$ab policy check $dir/policy-yaml.yaml"

python3 - "$dir/hf.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
p = r["replay"]
for n in ("verify-json", "verify-yaml"):
    v = r[n]
    print(f"{n}/replay: mean {v['mean']/p['mean']:.2f}, median {v['median']/p['median']:.2f}, min {v['min']/p['min']:.2f} (target <= 2)")
for n in ("check-json", "check-yaml"):
    print(f"{n}: median {r[n]['median']*1000:.0f} ms (target < 500)")
PY
for c in "ima replay --log $dir/ima.bin --bank sha256" \
	"verify --policy $dir/policy-json.yaml --key $dir/signer.pub $dir/out.bin" \
	"verify --policy $dir/policy-yaml.yaml --key $dir/signer.pub $dir/out.bin"; do
	/usr/bin/time -f "peak RSS %M KiB: attest-build $(echo "$c" | cut -c1-40)" $ab $c >/dev/null
done
