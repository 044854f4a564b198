#!/bin/sh
# bench-ima.sh: attest-build ima replay against evmctl ima_measurement (the C
# reference, Debian's ima-evm-utils) on the same synthetic 200,000-entry
# ima-ng log, in the same hyperfine run, plus peak RSS. Needs evmctl,
# hyperfine and GNU time (apt-get install ima-evm-utils hyperfine time).
#
#   scripts/bench-ima.sh [ENTRIES]
set -eu
n=${1:-200000}
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

go build -o "$dir/attest-build" ./cmd/attest-build
go run ./evidence/internal/imagen/cmd/imagen -n "$n" -o "$dir/ima.bin" -pcrs "$dir/ima" >"$dir/pcrs.txt"
want=$(awk '$1 == "sha256" {print $2}' "$dir/pcrs.txt")
echo "log: $n entries, $(wc -c <"$dir/ima.bin") bytes; generator's sha256 PCR 10: $want"

# Both tools must agree with the generator before their speed means anything.
got=$("$dir/attest-build" ima replay --log "$dir/ima.bin" --bank sha256)
[ "$got" = "$want" ] || { echo "attest-build replay gives $got, want $want" >&2; exit 1; }
evmctl ima_measurement --ignore-violations --pcrs "sha256,$dir/ima.sha256.pcrs" "$dir/ima.bin" >/dev/null 2>&1 ||
	{ echo "evmctl does not match the generator's PCR" >&2; exit 1; }

hyperfine -N --warmup 3 --runs "${RUNS:-30}" --export-json "$dir/hf.json" \
	-n evmctl "evmctl ima_measurement --ignore-violations --pcrs sha256,$dir/ima.sha256.pcrs $dir/ima.bin" \
	-n attest-build "$dir/attest-build ima replay --log $dir/ima.bin --bank sha256"

python3 - "$dir/hf.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
e, a = r["evmctl"], r["attest-build"]
print(f"ratio attest-build/evmctl: mean {a['mean']/e['mean']:.3f}, median {a['median']/e['median']:.3f}, min {a['min']/e['min']:.3f} (issue 2: <= 0.15; issue 16: <= 0.10)")
PY
for i in 1 2 3; do
	/usr/bin/time -f "attest-build peak RSS: %M KiB" "$dir/attest-build" ima replay --log "$dir/ima.bin" --bank sha256 >/dev/null
done
