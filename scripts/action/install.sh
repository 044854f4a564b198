# Step "Build attest-build from the action's source", with the runner's Go.
# The embedded simulator needs cgo and the build tag "simulator"; it is built
# in only when the tpm input asks for it, so a production binary cannot fall
# back to it.
#
# The build uses nothing an earlier job on this runner could have left
# behind: a new, empty module cache and build cache under this job's
# RUNNER_TEMP (removed afterwards), no go env file (GOENV=off: `go env -w`
# settings of the runner's user are ignored), GOFLAGS=-mod=readonly so every
# module is checked against the action's go.sum (a module go.sum does not
# name fails the build), and the local toolchain (GOTOOLCHAIN=local).
set -euo pipefail
source "$ACTION_PATH/scripts/action/lib.sh"

work=$(mktemp -d "${RUNNER_TEMP:?RUNNER_TEMP is not set}/attest-build-go.XXXXXXXX")
trap 'chmod -R u+w -- "$work" 2>/dev/null; rm -rf -- "$work"' EXIT
bin_dir=$(mktemp -d "$RUNNER_TEMP/attest-build-bin.XXXXXXXX")
build=(go build -trimpath -o "$bin_dir/attest-build")
cgo=0
if [[ ${INPUT_TPM:-auto} == sim ]]; then
	build+=(-tags simulator)
	cgo=1
fi
cd "$ACTION_PATH"
echo "building attest-build from $ACTION_PATH with $(GOENV=off GOTOOLCHAIN=local go version), in new module and build caches under $work"
# Variables of the job that would change what is built are dropped.
env -u GOFLAGS -u GOWORK -u GOEXPERIMENT -u GONOSUMDB -u GONOSUMCHECK -u GOINSECURE -u GOPRIVATE -u GOSUMDB -u GOVCS \
	-u CGO_CFLAGS -u CGO_CPPFLAGS -u CGO_CXXFLAGS -u CGO_LDFLAGS -u GOROOT \
	GOENV=off GOTOOLCHAIN=local GOFLAGS=-mod=readonly GOWORK=off \
	GOMODCACHE="$work/mod" GOCACHE="$work/cache" GOPATH="$work/gopath" \
	CGO_ENABLED=$cgo "${build[@]}" ./cmd/attest-build
output bin "$bin_dir/attest-build"
