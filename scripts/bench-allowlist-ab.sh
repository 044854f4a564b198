#!/bin/sh
# bench-allowlist-ab.sh: the comparison of bench-allowlist.sh between two
# commits on one fixture, alternating: each round runs ima replay, then
# verify without an allowlist, with the Keylime JSON policy and with the
# YAML ima.allow policy, each under the binary of BASE and of the work
# tree, once in turn, so that the machine's load falls on all alike.
# Prints the medians of wall time and CPU (user + system) and the peak RSS
# of each, and the ratios to replay (issue 16: verify <= 2x replay).
# Needs cgo (the simulator makes the attestation) and GNU time.
#
#   RUNS=10 scripts/bench-allowlist-ab.sh BASE [ENTRIES]
set -eu
base=${1:?usage: scripts/bench-allowlist-ab.sh BASE-COMMIT [ENTRIES]}
n=${2:-200000}
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

go build -tags simulator -o "$dir/new" ./cmd/attest-build
mkdir "$dir/src"
git archive "$base" | tar -x -C "$dir/src"
(cd "$dir/src" && go build -tags simulator -o "$dir/base" ./cmd/attest-build)
go run ./evidence/internal/imagen/cmd/imagen -n "$n" -o "$dir/ima.bin" >/dev/null
ATTEST_BUILD_BENCH_LOG="$dir/ima.bin" ATTEST_BUILD_BENCH_DIR="$dir" \
	go test -tags simulator -count=1 -run '^TestWriteBenchFixture$' ./provenance/verify/ >/dev/null
"$dir/new" policy init --scope boot --from "$dir/out.bin.intoto.jsonl" --key "$dir/signer.pub" -o "$dir/policy-json.yaml" 2>/dev/null
"$dir/new" policy init --scope boot --from "$dir/out.bin.intoto.jsonl" --key "$dir/signer.pub" >"$dir/policy-yaml.yaml"
sed -i 's/allowViolations: false/allowViolations: true/' "$dir/policy-json.yaml" "$dir/policy-yaml.yaml"
grep -v -e '^  keylimeRuntimePolicy:' -e '^  allow: \[\]' "$dir/policy-json.yaml" >"$dir/policy-none.yaml"
for b in base new; do
	for p in none json yaml; do
		"$dir/$b" verify --policy "$dir/policy-$p.yaml" --key "$dir/signer.pub" "$dir/out.bin" >/dev/null
	done
done

uptime
for _ in $(seq "${RUNS:-10}"); do
	/usr/bin/time -f "replay	%e	%U	%S	%M" -a -o "$dir/times" "$dir/new" ima replay --log "$dir/ima.bin" --bank sha256 >/dev/null
	for p in none json yaml; do
		for b in base new; do
			/usr/bin/time -f "$p-$b	%e	%U	%S	%M" -a -o "$dir/times" \
				"$dir/$b" verify --policy "$dir/policy-$p.yaml" --key "$dir/signer.pub" "$dir/out.bin" >/dev/null
		done
	done
done
uptime
python3 - "$dir/times" <<'PY'
import sys, statistics as st
r = {}
for line in open(sys.argv[1]):
    n, e, u, s, m = line.split('\t')
    r.setdefault(n, []).append((float(e), float(u) + float(s), int(m)))
rw = st.median(x[0] for x in r['replay'])
rc = st.median(x[1] for x in r['replay'])
for n, v in r.items():
    w, c = st.median(x[0] for x in v), st.median(x[1] for x in v)
    print(f"{n:10} wall {w:.3f} s ({w/rw:.2f} x replay)  CPU {c:.3f} s ({c/rc:.2f} x)  peak RSS {max(x[2] for x in v)/1024:.1f} MiB  runs {len(v)}")
PY
