#!/bin/sh
# build.sh: a small shell-driven build. tools/configure.sh writes build/config.h,
# tools/cc.sh "compiles" each src/*.c into build/*.o, tools/ld.sh links them
# into out/app.bin. Every step is an executable the kernel measures.
#   BUILD_HOOKS    extra executables to run before linking
#   BUILD_TAIL_LOG=1  print the log while it is still open for writing
set -eu
cd "$(dirname "$0")"
mkdir -p build out
: >out/build.log
./tools/configure.sh >build/config.h
for s in src/*.c; do
	./tools/cc.sh build/config.h "$s" "build/$(basename "$s" .c).o" >>out/build.log
done
for h in ${BUILD_HOOKS:-}; do
	"$h" >>out/build.log
done
if [ "${BUILD_TAIL_LOG:-0}" = 1 ]; then
	exec 3>>out/build.log
	cat out/build.log
	exec 3>&-
fi
./tools/ld.sh out/app.bin build/*.o >>out/build.log
echo "build.sh: built out/app.bin ($(wc -c <out/app.bin) bytes)"
