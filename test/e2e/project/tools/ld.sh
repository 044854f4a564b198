#!/bin/sh
# ld.sh OUT OBJ...: "links" the objects into OUT, stamped with a unique build
# id, so two builds of the same sources give different artifacts.
set -eu
out=$1
shift
{
	echo "E2EAPP build-id $(cat /proc/sys/kernel/random/uuid)"
	cat "$@"
} >"$out.tmp"
mv "$out.tmp" "$out"
echo "ld $* -> $out"
