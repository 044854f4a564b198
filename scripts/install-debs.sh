#!/usr/bin/env bash
# install-debs.sh PURPOSE PKG...: make sure the Debian packages PKG... are
# installed (make test, make bench and the quick start call it).
#
# Packages already installed are left alone. Run as root with apt-get, it
# installs the missing ones; otherwise it names them and the command that
# installs them, and exits 0 (the tests that need them then skip with a reason,
# or fail under CI=true).
#
# An apt or dpkg lock held by another process (unattended-upgrades, another
# apt-get) is waited for, at most APT_LOCK_WAIT seconds (default 300), not a
# failure. A package that cannot be installed is named, with the command to
# install it by hand and apt's last words; the exit status is then 1.
# APT_LOCK_POLL: seconds between tries while a lock is held (default 5).
set -uo pipefail

if [[ $# -lt 2 ]]; then
	echo "usage: $0 PURPOSE PKG..." >&2
	exit 2
fi
purpose=$1
shift
lock_wait=${APT_LOCK_WAIT:-300}

missing=()
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
	echo "install-debs: $purpose needs the Debian packages ${missing[*]}; install them: sudo apt-get install ${missing[*]}" >&2
	exit 0
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# apt ARGS...: apt-get ARGS, retried while another process holds an apt or
# dpkg lock, for at most $lock_wait seconds in all. dpkg's lock is waited for
# by apt itself (DPkg::Lock::Timeout); apt-get update's lists lock is not.
deadline=$(($(date +%s) + lock_wait))
apt() {
	local left
	while :; do
		left=$((deadline - $(date +%s)))
		((left < 0)) && left=0
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout="$left" "$@" >"$log" 2>&1 && return 0
		grep -qiE 'could not get lock|unable to lock|unable to acquire the dpkg frontend lock|is held by process' "$log" || return 1
		if (($(date +%s) >= deadline)); then
			echo "install-debs: an apt lock was still held after ${lock_wait}s" >>"$log"
			return 1
		fi
		echo "install-debs: waiting for the apt lock another process holds ($(grep -oiE 'held by process [0-9]+[^)]*' "$log" | head -1))" >&2
		sleep "${APT_LOCK_POLL:-5}"
	done
}

echo "install-debs: installing for $purpose: ${missing[*]}" >&2
apt update -qq || echo "install-debs: apt-get update failed (trying the package lists there are): $(tail -1 "$log")" >&2
apt install -y -qq --no-install-recommends "${missing[@]}" && exit 0

# Name the package that failed: try each one alone.
failed=()
for p in "${missing[@]}"; do
	apt install -y -qq --no-install-recommends "$p" || {
		failed+=("$p")
		echo "install-debs: could not install the Debian package $p (needed by $purpose): $(grep -E '^(E|W):' "$log" | tail -1)" >&2
	}
done
if [[ ${#failed[@]} -eq 0 ]]; then
	exit 0 # the whole set failed once, each one then installed alone
fi
echo "install-debs: install by hand, then run this again: sudo apt-get update && sudo apt-get install ${failed[*]}" >&2
exit 1
