#!/bin/sh
# bench-rootfs.sh: attest-build policy init --from-rootfs (hashing an image's
# files into a Keylime runtime policy) against sha256sum over the same files,
# in the same hyperfine run (issue 16: throughput at least sha256sum's), from
# a directory and from a tar of it. The page cache is warmed first, so both
# read from memory. Needs hyperfine (apt-get install hyperfine).
#
#   scripts/bench-rootfs.sh [DIR]     (default /usr/share: ~45,000 files)
set -eu
tree=${1:-/usr/share}
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

go build -o "$dir/attest-build" ./cmd/attest-build
# The same file list for both: regular files, every owner, nothing skipped.
(cd "$tree" && find . -type f -print0) >"$dir/files"
tar -C "$tree" -cf "$dir/image.tar" .
nfiles=$(tr -cd '\0' <"$dir/files" | wc -c)
echo "tree: $tree, $nfiles regular files, $(du -sb "$tree" 2>/dev/null | cut -f1) bytes; tar $(wc -c <"$dir/image.tar") bytes; $(nproc) cores"

ab="$dir/attest-build policy init --all-owners --skip-path= --from-rootfs"
# attest-build must hash what sha256sum hashes before its speed means anything.
$ab "$tree" -o "$dir/p.yaml" >/dev/null
(cd "$tree" && xargs -0 sha256sum <"$dir/files") | awk '{sub(/^\.\//, "/", $2); print $2, $1}' | sort >"$dir/sha256sum.txt"
python3 - "$dir/p.runtime-policy.json" "$dir/sha256sum.txt" <<'PY'
import json, sys
pol = json.load(open(sys.argv[1]))["digests"]
ref = {}
for line in open(sys.argv[2]):
    path, d = line.rstrip("\n").rsplit(" ", 1)
    ref[path.replace(" ", "_")] = d
mine = {p: ds[0] for p, ds in pol.items()}
if mine != ref:
    missing = set(ref) - set(mine); extra = set(mine) - set(ref)
    diff = [p for p in set(ref) & set(mine) if ref[p] != mine[p]]
    sys.exit(f"policy differs from sha256sum: {len(missing)} missing, {len(extra)} extra, {len(diff)} digests differ")
print(f"policy matches sha256sum on {len(ref)} files")
PY

hyperfine -N --warmup 1 --runs "${RUNS:-10}" --export-json "$dir/hf.json" \
	-n sha256sum "sh -c 'cd $tree && xargs -0 sha256sum <$dir/files >/dev/null'" \
	-n "sha256sum-P$(nproc)" "sh -c 'cd $tree && xargs -0 -P $(nproc) -n 500 sha256sum <$dir/files >/dev/null'" \
	-n dir "$ab $tree -o $dir/d.yaml" \
	-n tar "$ab $dir/image.tar -o $dir/t.yaml"

python3 - "$dir/hf.json" "$(nproc)" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
s, p = r["sha256sum"], r["sha256sum-P" + sys.argv[2]]
for n in ("dir", "tar"):
    a = r[n]
    print(f"{n}: sha256sum/attest-build wall time (> 1: faster): median {s['median']/a['median']:.2f}, mean {s['mean']/a['mean']:.2f}; against sha256sum on every core: {p['median']/a['median']:.2f}")
PY
