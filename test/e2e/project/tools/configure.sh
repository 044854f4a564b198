#!/bin/sh
# configure.sh: prints the build configuration header.
set -eu
echo "#define APP_VERSION \"$(cat VERSION)\""
echo "#define APP_NAME \"e2e-app\""
