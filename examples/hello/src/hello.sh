#!/bin/sh
# hello @VERSION@: prints the greeting installed beside it.
set -eu
here=$(dirname "$0")
greeting="$here/../share/greeting.txt"
if [ "${1:-}" = "--self-test" ]; then
	greeting=$2
	grep -q . "$greeting" || { echo "self-test: $greeting is empty" >&2; exit 1; }
	echo "self-test passed (hello @VERSION@)"
	exit 0
fi
cat "$greeting"
