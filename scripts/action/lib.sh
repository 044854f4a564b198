# Shared helpers of the action's steps (sourced, not run).
# Inputs arrive in INPUT_* environment variables, never spliced into the
# script text, so no input can inject shell code.

# die MESSAGE: report an input mistake as a GitHub error annotation; exit 2.
die() {
	echo "::error title=attest-build::$*" >&2
	exit 2
}

# lines VAR TEXT: split TEXT into the array VAR, one trimmed item per line,
# skipping blank lines and lines starting with #.
lines() {
	local -n _out=$1
	local line
	_out=()
	while IFS= read -r line; do
		line="${line#"${line%%[![:space:]]*}"}"
		line="${line%"${line##*[![:space:]]}"}"
		[[ -z $line || $line == \#* ]] && continue
		_out+=("$line")
	done <<<"$2"
}

# output NAME VALUE: set a step output.
output() {
	local delim="ghadelim_$RANDOM$RANDOM"
	printf '%s<<%s\n%s\n%s\n' "$1" "$delim" "$2" "$delim" >>"${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set: run inside GitHub Actions}"
}

# summary: append standard input to the job summary.
summary() {
	cat >>"${GITHUB_STEP_SUMMARY:-/dev/null}"
}
