#!/bin/sh
# build.sh: a small shell-driven build. tools/configure.sh writes build/config.h,
# tools/cc.sh "compiles" each src/*.c into build/*.o, tools/ld.sh links them
# into out/app.bin. Every step is an executable the kernel measures.
#   BUILD_HOOKS       extra executables to run before linking
#   BUILD_TAIL_LOG=1  print the compile log while it is still open for writing
set -eu
cd "$(dirname "$0")"
mkdir -p build out
: >out/build.log
./tools/configure.sh >build/config.h
for s in src/*.c; do
	./tools/cc.sh build/config.h "$s" "build/$(basename "$s" .c).o" >>out/build.log
done
# Show the compile log. With BUILD_TAIL_LOG=1 it is still open for writing
# while it is read: the kernel logs an IMA violation (open_writers).
[ "${BUILD_TAIL_LOG:-0}" = 1 ] && exec 3>>out/build.log
cat out/build.log
exec 3>&-
for h in ${BUILD_HOOKS:-}; do
	"$h" >>out/build.log
done
./tools/ld.sh out/app.bin build/*.o >>out/build.log
echo "build.sh: built out/app.bin ($(wc -c <out/app.bin) bytes)"
