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

# bool_flag NAME VALUE: true when VALUE is "true", false when "false"
# (status 1); anything else is refused as a mistake in input NAME.
bool_flag() {
	case $2 in
	true) return 0 ;;
	false) return 1 ;;
	*) die "input '$1' is '$(printable "$2")'; want true or false" ;;
	esac
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

# printable TEXT: TEXT with every character that could make it display as
# something else replaced by a visible escape: control characters other than
# TAB and LF (a lone CR ends a line in Markdown, ESC drives a terminal) as
# \xHH, C1 controls, line and paragraph separators and bidirectional
# formatting characters as \uHHHH. Works on bytes (LC_ALL=C), so text that
# is not UTF-8 is handled too.
printable() {
	local LC_ALL=C s=$1 i c
	s=${s//\\x/\\\\x}
	s=${s//\\u/\\\\u}
	for ((i = 1; i < 32; i++)); do
		((i == 9 || i == 10)) && continue
		printf -v c '%b' "\\x$(printf %02x "$i")"
		s=${s//"$c"/\\x$(printf %02x "$i")}
	done
	s=${s//$'\x7f'/\\x7f}
	for ((i = 0x80; i <= 0x9f; i++)); do
		printf -v c '%b' "\\xc2\\x$(printf %02x "$i")"
		s=${s//"$c"/\\u00$(printf %02x "$i")}
	done
	s=${s//$'\xd8\x9c'/\\u061c}
	for i in 8e 8f a8 a9 aa ab ac ad ae; do
		printf -v c '%b' "\\xe2\\x80\\x$i"
		s=${s//"$c"/\\u$(printf %04x $((0x2000 + 0x$i - 0x80)))}
	done
	for i in a6 a7 a8 a9; do
		printf -v c '%b' "\\xe2\\x81\\x$i"
		s=${s//"$c"/\\u$(printf %04x $((0x2040 + 0x$i - 0x80)))}
	done
	printf '%s' "$s"
}

# fenced INFO: standard input as a fenced code block for the job summary,
# safe for any text: printable() escapes what could end a line or disguise
# text, and the fence is longer than any run of backticks inside, so nothing
# in the text can close it.
fenced() {
	local text fence='```'
	text=$(printable "$(cat)")
	while [[ $text == *"$fence"* ]]; do
		fence+='`'
	done
	printf '%s%s\n%s\n%s\n' "$fence" "$1" "$text" "$fence"
}

# log_untrusted TEXT: print TEXT to the job log with workflow commands
# (::error::, ::add-mask::, ...) switched off around it and printable()
# applied, so text from an attestation cannot act on the runner or forge
# annotations.
log_untrusted() {
	local token="attest-build-$RANDOM$RANDOM$RANDOM"
	echo "::stop-commands::$token"
	printf '%s\n' "$(printable "$1")"
	echo "::$token::"
}
