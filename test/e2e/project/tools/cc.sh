#!/bin/sh
# cc.sh CONFIG SRC OBJ: "compiles" SRC: strips comments, prefixes the
# configuration and records the source digest.
set -eu
{
	cat "$1"
	echo "/* source $(basename "$2") sha256 $(sha256sum "$2" | cut -d' ' -f1) */"
	sed -e 's://.*$::' -e '/^[[:space:]]*$/d' "$2"
} >"$3"
echo "cc $2 -> $3"
