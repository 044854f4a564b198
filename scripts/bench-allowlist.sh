#!/bin/sh
# bench-allowlist.sh: attest-build verify of an attestation carrying a
# synthetic 200,000-entry IMA log under a boot-scope policy that allowlists
# every one of its ~200,000 paths, the allowlist as a Keylime runtime policy
# (what policy init -o writes) and inline in the YAML (ima.allow), against
# attest-build ima replay of the same log, in the same hyperfine run
# (issue 16: <= 2x replay, <= 64 MiB RSS), and policy check of each
# (< 0.5 s). verify-none, the same policy without the allowlist, is what
# verify costs before any allowlist work. Wall time, CPU (user + system)
# and peak RSS for each. Needs cgo (the simulator makes the attestation), hyperfine and
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
grep -v -e '^  keylimeRuntimePolicy:' -e '^  allow: \[\]' "$dir/policy-json.yaml" >"$dir/policy-none.yaml"
echo "log: $n entries; attestation $(wc -c <"$dir/out.bin.intoto.jsonl") bytes;" \
	"policies: $(wc -c <"$dir/policy-json.yaml") + $(wc -c <"$dir/policy-json.runtime-policy.json") bytes (Keylime JSON), $(wc -c <"$dir/policy-yaml.yaml") bytes (YAML)"

# verify must pass under both before its speed means anything.
for p in json yaml none; do
	$ab verify --policy "$dir/policy-$p.yaml" --key "$dir/signer.pub" "$dir/out.bin" >/dev/null
done

hyperfine -N --warmup 2 --runs "${RUNS:-20}" --export-json "$dir/hf.json" \
	-n replay "$ab ima replay --log $dir/ima.bin --bank sha256" \
	-n verify-none "$ab verify --policy $dir/policy-none.yaml --key $dir/signer.pub $dir/out.bin" \
	-n verify-json "$ab verify --policy $dir/policy-json.yaml --key $dir/signer.pub $dir/out.bin" \
	-n verify-yaml "$ab verify --policy $dir/policy-yaml.yaml --key $dir/signer.pub $dir/out.bin" \
	-n check-json "$ab policy check $dir/policy-json.yaml" \
	-n check-yaml "$ab policy check $dir/policy-yaml.yaml"

python3 - "$dir/hf.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
p = r["replay"]
print(f"{'':12} {'mean s':>8} {'median s':>8} {'min s':>8} {'user+sys s':>12}")
for n, v in r.items():
    print(f"{n:12} {v['mean']:8.3f} {v['median']:8.3f} {v['min']:8.3f} {v['user']:6.3f}+{v['system']:.3f}")
for n in ("verify-none", "verify-json", "verify-yaml"):
    v = r[n]
    print(f"{n}/replay: mean {v['mean']/p['mean']:.2f}, median {v['median']/p['median']:.2f}, min {v['min']/p['min']:.2f},"
          f" CPU {(v['user']+v['system'])/(p['user']+p['system']):.2f} (target <= 2)")
for n in ("check-json", "check-yaml"):
    print(f"{n}: median {r[n]['median']*1000:.0f} ms, CPU {(r[n]['user']+r[n]['system'])*1000:.0f} ms (target < 500)")
PY
for c in "ima replay --log $dir/ima.bin --bank sha256" \
	"verify --policy $dir/policy-none.yaml --key $dir/signer.pub $dir/out.bin" \
	"verify --policy $dir/policy-json.yaml --key $dir/signer.pub $dir/out.bin" \
	"verify --policy $dir/policy-yaml.yaml --key $dir/signer.pub $dir/out.bin" \
	"policy check $dir/policy-json.yaml" \
	"policy check $dir/policy-yaml.yaml"; do
	/usr/bin/time -f "peak RSS %M KiB, %e s, CPU %U + %S s: attest-build $(echo "$c" | sed "s|$dir/||g")" "$ab" $c >/dev/null
done
