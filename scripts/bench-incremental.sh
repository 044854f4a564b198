#!/bin/sh
# bench-incremental.sh: incremental attestation (issue 16 item 3). A runner
# whose IMA log holds 1,000,000 entries when its first build starts runs
# BUILDS builds (default 100) one after another, each adding 1,000 entries,
# with --baseline-dir (the library's Options.BaselineDir, simulator TPM): the
# first makes the boot's baseline of the whole log, each a baseline
# continuing the one before. Prints the size of the attestations (target
# <= 256 KiB) and of the baselines, then compares in one hyperfine run:
# verify of the first attestation alone, of the last alone, and of all
# BUILDS in one verify run (target: all <= 3 x one), with peak RSS. Needs cgo,
# hyperfine and GNU time (apt-get install hyperfine time).
#
#   scripts/bench-incremental.sh [LOG_ENTRIES_AT_FIRST_BUILD] [BUILDS]
set -eu
n=${1:-1000000}
builds=${2:-100}
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

go build -tags simulator -o "$dir/attest-build" ./cmd/attest-build
go run ./evidence/internal/imagen/cmd/imagen -n $((n + builds * 1000)) -o "$dir/ima.bin" >/dev/null
start=$(date +%s)
ATTEST_BUILD_BENCH_LOG="$dir/ima.bin" ATTEST_BUILD_BENCH_DIR="$dir" ATTEST_BUILD_BENCH_BUILDS="$builds" \
	go test -tags simulator -count=1 -timeout 60m -run '^TestWriteBaselineBenchFixture$' ./provenance/verify/ >/dev/null
echo "fixture: $builds builds in $(($(date +%s) - start)) s (simulator; the log's PCR 10 extends included)"
echo "log: $((n + builds * 1000)) entries, $(wc -c <"$dir/ima.bin") bytes"
python3 - "$dir" "$builds" <<'PY'
import os, sys
d, b = sys.argv[1], int(sys.argv[2])
atts = [os.path.getsize(f"{d}/b{k}/out.bin.intoto.jsonl") for k in range(1, b + 1)]
base = sorted(os.path.getsize(os.path.join(d, "base", f)) for f in os.listdir(os.path.join(d, "base")))
print(f"attestations (1,000 entries each): min {min(atts)/1024:.1f} KiB, max {max(atts)/1024:.1f} KiB (target <= 256 KiB)")
print(f"baselines: {len(base)}, the boot's {base[-1]/1024/1024:.1f} MiB, the others {base[0]/1024:.1f}-{base[-2]/1024:.1f} KiB")
PY
"$dir/attest-build" policy init --scope window --from "$dir/b$builds/out.bin.intoto.jsonl" --baseline "$dir/base" --key "$dir/signer.pub" -o "$dir/policy.yaml" 2>"$dir/init.err" || { cat "$dir/init.err"; exit 1; }
# No allowlist (the init one names the last build's window only) and the
# generated log's violations allowed: what is measured is reading, verifying
# and replaying the evidence.
sed -i -e '/keylimeRuntimePolicy/d' -e '/^  allow: \[\]/d' -e 's/allowViolations: false/allowViolations: true/' "$dir/policy.yaml"
all=""
for k in $(seq 1 "$builds"); do all="$all $dir/b$k/out.bin"; done
v="$dir/attest-build verify --policy $dir/policy.yaml --key $dir/signer.pub --baseline $dir/base"
# verify must pass before its speed means anything.
$v $all >"$dir/verify.out" || { grep -B3 -A3 FAIL "$dir/verify.out" | head -40; exit 1; }

hyperfine -N --warmup 1 --runs "${RUNS:-5}" --export-json "$dir/hf.json" \
	-n first "$v $dir/b1/out.bin" \
	-n last "$v $dir/b$builds/out.bin" \
	-n all "$v$all"
python3 - "$dir/hf.json" "$builds" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
for one in ("first", "last"):
    a, o = r["all"], r[one]
    cpu = (a["user"] + a["system"]) / (o["user"] + o["system"])
    print(f"all {sys.argv[2]} / {one} alone: wall mean {a['mean']/o['mean']:.2f}, min {a['min']/o['min']:.2f}; CPU {cpu:.2f} (target <= 3)")
for k in ("first", "last", "all"):
    x = r[k]
    print(f"{k}: mean {x['mean']:.3f} s, min {x['min']:.3f} s, user {x['user']:.3f} + sys {x['system']:.3f} s")
PY
/usr/bin/time -f "peak RSS %M KiB: verify the first" $v "$dir/b1/out.bin" >/dev/null
/usr/bin/time -f "peak RSS %M KiB: verify all $builds" $v $all >"$dir/verify.out" || { grep -B3 -A3 FAIL "$dir/verify.out" | head -40; exit 1; }
