# Step "Look for Go": is a Go new enough for the action's go.mod on PATH?
# If not, the next step runs actions/setup-go.
set -euo pipefail
source "$ACTION_PATH/scripts/action/lib.sh"

want=$(awk '$1 == "go" { print $2; exit }' "$ACTION_PATH/go.mod")
go=$(command -v go || true)
if [[ -n $go ]]; then
	have=$(GOTOOLCHAIN=local "$go" env GOVERSION 2>/dev/null || true)
	have=${have#go}
	if [[ -n $have && $(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n1) == "$want" ]]; then
		echo "Go $have at $go (go.mod needs $want)"
		output found true
		exit 0
	fi
	echo "Go ${have:-of unknown version} at $go is older than $want: setting up Go with actions/setup-go"
else
	echo "no Go on PATH: setting up Go $want with actions/setup-go"
fi
output found false
