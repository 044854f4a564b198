# Step "Build attest-build from the action's source", with the runner's Go.
# The embedded simulator needs cgo and the build tag "simulator"; it is built
# in only when the tpm input asks for it, so a production binary cannot fall
# back to it.
set -euo pipefail
source "$ACTION_PATH/scripts/action/lib.sh"

bin_dir="${RUNNER_TEMP:?RUNNER_TEMP is not set}/attest-build/bin"
mkdir -p "$bin_dir"
build=(go build -trimpath -o "$bin_dir/attest-build")
cgo=0
if [[ ${INPUT_TPM:-auto} == sim ]]; then
	build+=(-tags simulator)
	cgo=1
fi
cd "$ACTION_PATH"
echo "building attest-build from $ACTION_PATH with $(GOTOOLCHAIN=local go version)"
CGO_ENABLED=$cgo GOTOOLCHAIN=local GOFLAGS=-mod=readonly "${build[@]}" ./cmd/attest-build
output bin "$bin_dir/attest-build"
