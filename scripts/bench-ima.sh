#!/bin/sh
# bench-ima.sh: attest-build ima replay against evmctl ima_measurement (the C
# reference, Debian's ima-evm-utils) on the same synthetic 200,000-entry
# ima-ng log, in the same hyperfine run, plus peak RSS. Needs evmctl,
# hyperfine and GNU time (apt-get install ima-evm-utils hyperfine time).
# It prints wall time (mean, median, min) and CPU (user + system, the mean
# of the runs) of each, their ratios, and the load average around the run:
# on a loaded machine the CPU ratio is the steadier figure.
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

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
hyperfine -N --warmup 3 --runs "${RUNS:-30}" --export-json "$dir/hf.json" \
	-n evmctl "evmctl ima_measurement --ignore-violations --pcrs sha256,$dir/ima.sha256.pcrs $dir/ima.bin" \
	-n attest-build "$dir/attest-build ima replay --log $dir/ima.bin --bank sha256"

python3 - "$dir/hf.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
e, a = r["evmctl"], r["attest-build"]
for n, x in (("evmctl", e), ("attest-build", a)):
    print(f"{n}: wall mean {x['mean']:.3f} s, median {x['median']:.3f} s, min {x['min']:.3f} s; CPU user {x['user']:.3f} + system {x['system']:.3f} s")
cpu = (a['user'] + a['system']) / (e['user'] + e['system'])
print(f"ratio attest-build/evmctl: wall mean {a['mean']/e['mean']:.3f}, median {a['median']/e['median']:.3f}, min {a['min']/e['min']:.3f}; CPU {cpu:.3f} (issue 2: <= 0.15; issue 16: <= 0.10)")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in 1 2 3; do
	/usr/bin/time -f "attest-build peak RSS: %M KiB" "$dir/attest-build" ima replay --log "$dir/ima.bin" --bank sha256 >/dev/null
done
