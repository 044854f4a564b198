#!/usr/bin/env bash
# e2e.sh - the VM machinery of attest-build's real-kernel end-to-end test.
#
# Boots Debian's own kernel (IMA on) under QEMU (TCG) with swtpm as its TPM,
# runs a build scenario inside, and carries the guest's output files out over
# a second serial port. The checks on those files are made by e2e_test.go.
#
#   e2e.sh prepare                      fetch and extract the Debian packages (cached),
#                                       build a static attest-build, write the initramfs
#   e2e.sh tpm STATE [EKROOTS]          manufacture a TPM 2.0 (sha1+sha256 banks, EK) in STATE; with
#                                       EKROOTS, also an EK certificate from a swtpm-localca made for
#                                       this TPM, whose certificates (the EK roots) land in EKROOTS
#   e2e.sh timeout                      print the seconds a boot may take (see E2E_VM_TIMEOUT)
#   e2e.sh boot SCENARIO OUT [STATE]    boot once running SCENARIO (see guest/scenario.sh);
#                                       the TPM starts as a copy of STATE (else a fresh one), and
#                                       OUT/tpmstate is its state after the boot;
#                                       the guest's /out lands in OUT/files, timings in OUT/times
#
# Host -> guest: E2E_INPUT=DIR puts DIR's files in the guest's /e2e/in (a second
# cpio archive appended to the initramfs; the kernel unpacks both).
#
# The firmware is E2E_FW: seabios (default: legacy BIOS, QEMU -kernel) or
# ovmf-sb-shim (UEFI with Secure Boot on, Microsoft and Debian keys enrolled,
# booting Debian's signed shim -> grub -> kernel from a FAT disk; needs the
# Debian packages ovmf, mtools, dosfstools). E2E_IMA=0 leaves IMA's
# parameters off the kernel command line (a boot "without IMA").
#
# prepare also generates the build's signing key once (attest-build key generate):
# WORK/keys/signer.key goes into the initramfs, WORK/keys/signer.pub is the
# verifier's.
#
# Environment: E2E_WORK (cache and build folder, default test/e2e/.work), E2E_LOADAVG
# (the load average file read for the default timeout, default /proc/loadavg),
# E2E_VM_TIMEOUT (seconds per boot; default 240, 600 for ovmf-sb-shim, scaled by the
# host's load: that x the 1-minute load average per CPU when that is above 1, at most
# 3.75 times it (900 for 240), since a loaded host slows QEMU's TCG emulation in
# proportion), E2E_FW, E2E_IMA (above).
# Exit status: 0 ok, 1 failure, 2 usage, 3 a Debian package could not be fetched.
# Nothing is installed into the host: packages are unpacked with dpkg -x.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORK=${E2E_WORK:-$HERE/.work}

# vm_timeout prints the seconds one boot may take: E2E_VM_TIMEOUT, else a base (240;
# 600 for E2E_FW=ovmf-sb-shim: UEFI firmware and grub under TCG take 2-3 times
# SeaBIOS's boot) scaled by the load average per CPU (never less than the base, never
# more than 3.75 times it: 900 for 240).
vm_timeout() {
	if [ -n "${E2E_VM_TIMEOUT:-}" ]; then
		echo "$E2E_VM_TIMEOUT"
		return
	fi
	local base=240
	[ "${E2E_FW:-seabios}" = ovmf-sb-shim ] && base=600
	awk -v cpus="$(nproc 2>/dev/null || echo 1)" -v base="$base" \
		'NR == 1 { f = $1 / cpus; if (f < 1) f = 1; t = int(base * f); if (t > base * 3.75) t = int(base * 3.75) }
		END { print (t ? t : base) }' \
		"${E2E_LOADAVG:-/proc/loadavg}" 2>/dev/null || echo "$base"
}
export PATH=$PATH:/usr/local/go/bin GOTOOLCHAIN=local

say() { echo "[e2e] $*" >&2; }
die() { say "$*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}'; }

# kernel_package prints the package linux-image-amd64 depends on (e.g. linux-image-6.1.0-56-amd64).
kernel_package() {
	apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}'
}

# fetch PKG: download PKG's .deb into $WORK/debs unless it is there already.
fetch() {
	local pkg=$1
	ls "$WORK/debs/${pkg}"_*.deb >/dev/null 2>&1 && return 0
	say "apt-get download $pkg"
	# apt drops privileges to _apt for downloads: the folder must be writable by it.
	chmod 777 "$WORK/debs"
	if ! (cd "$WORK/debs" && apt-get download "$pkg" >"$WORK/apt-$pkg.log" 2>&1); then
		# Stale package lists name versions the mirror no longer has: refresh once.
		say "apt-get download $pkg failed; running apt-get update and trying again"
		apt-get update -qq >/dev/null 2>&1 || true
		if ! (cd "$WORK/debs" && apt-get download "$pkg" >"$WORK/apt-$pkg.log" 2>&1); then
			say "apt-get download $pkg failed: $(tail -2 "$WORK/apt-$pkg.log" | tr '\n' ' ')"
			exit 3
		fi
	fi
}

# unpack PKG DIR: dpkg -x the cached .deb into DIR (once).
unpack() {
	local pkg=$1 dir=$2 deb
	deb=$(ls "$WORK/debs/${pkg}"_*.deb | sort -V | tail -1)
	if [ ! -f "$dir/.from" ] || [ "$(cat "$dir/.from")" != "$deb" ]; then
		rm -rf "$dir" && mkdir -p "$dir" && dpkg -x "$deb" "$dir" && echo "$deb" >"$dir/.from"
	fi
}

cmd_prepare() {
	local t kpkg
	mkdir -p "$WORK/debs" "$WORK/bin"
	# one prepare at a time per work folder (two test runs may share the cache)
	exec 9>"$WORK/.prepare.lock"
	flock 9
	t=$(now)
	kpkg=$(kernel_package)
	if [ -z "$kpkg" ]; then
		say "apt-cache does not know linux-image-amd64; running apt-get update"
		apt-get update -qq >/dev/null 2>&1 || { say "apt-get update failed"; exit 3; }
		kpkg=$(kernel_package)
		[ -n "$kpkg" ] || { say "apt-cache depends linux-image-amd64 names no kernel"; exit 3; }
	fi
	fetch "$kpkg"
	fetch busybox-static
	fetch shim-signed
	fetch grub-efi-amd64-signed
	unpack "$kpkg" "$WORK/kernel"
	unpack busybox-static "$WORK/busybox"
	unpack shim-signed "$WORK/shim"
	unpack grub-efi-amd64-signed "$WORK/grub"
	ls "$WORK"/kernel/boot/vmlinuz-* >/dev/null || die "no vmlinuz in $kpkg"
	echo "packages $(since "$t")" >"$WORK/times"

	t=$(now)
	(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$WORK/bin/attest-build" ./cmd/attest-build)
	echo "go-build $(since "$t")" >>"$WORK/times"
	if [ ! -f "$WORK/keys/signer.key" ]; then
		mkdir -p "$WORK/keys"
		# unencrypted: the guest signs unattended
		ATTEST_BUILD_KEY_PASSWORD= "$WORK/bin/attest-build" key generate --out "$WORK/keys/signer" >/dev/null
	fi

	t=$(now)
	build_initramfs
	echo "initramfs $(since "$t")" >>"$WORK/times"
	say "prepared: kernel $kpkg, initramfs $(du -h "$WORK/initrd.gz" | cut -f1)"
}

build_initramfs() {
	R=$WORK/initramfs
	rm -rf "$R"
	mkdir -p "$R"/{bin,usr/bin,proc,sys,dev,tmp,out,e2e/keys}
	cp "$WORK/busybox/bin/busybox" "$R/bin/busybox"
	local a
	for a in $("$R/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$R/bin/$a"; done
	cp "$WORK/bin/attest-build" "$R/usr/bin/attest-build"
	cp "$HERE/guest/init" "$R/init"
	cp "$HERE/guest/scenario.sh" "$R/e2e/scenario.sh"
	cp -a "$HERE/project" "$R/project"
	rm -rf "$R/project/out" "$R/project/build"
	cp "$WORK/keys/signer.key" "$R/e2e/keys/signer.key"
	chmod +x "$R/init" "$R/e2e/scenario.sh"
	mknod "$R/dev/console" c 5 1
	(cd "$R" && find . -print0 | cpio --null -o -H newc --owner=0:0 --quiet) | gzip -1 >"$WORK/initrd.gz.tmp"
	mv "$WORK/initrd.gz.tmp" "$WORK/initrd.gz"
}

cmd_tpm() {
	local state=$1 roots=${2:-} conf=/etc/swtpm_setup.conf certs=()
	mkdir -p "$state"
	state=$(cd "$state" && pwd)
	if [ -n "$roots" ]; then
		# swtpm-localca with its state beside (not in) the TPM state: the
		# manufacturer's CA, whose certificates are the verifier's EK roots.
		local ca=$state.localca
		mkdir -p "$ca" "$roots"
		printf 'statedir = %s\nsigningkey = %s/signkey.pem\nissuercert = %s/issuercert.pem\ncertserial = %s/certserial\n' \
			"$ca" "$ca" "$ca" "$ca" >"$ca/localca.conf"
		printf -- '--platform-manufacturer attest-build\n--platform-version 2.1\n--platform-model swtpm\n' >"$ca/localca.options"
		printf 'create_certs_tool = %s\ncreate_certs_tool_config = %s\ncreate_certs_tool_options = %s\nactive_pcr_banks = sha1,sha256\n' \
			"$(command -v swtpm_localca)" "$ca/localca.conf" "$ca/localca.options" >"$ca/setup.conf"
		conf=$ca/setup.conf
		certs=(--create-ek-cert)
	fi
	# swtpm_setup writes its own configuration under XDG_CONFIG_HOME: keep it out of $HOME.
	XDG_CONFIG_HOME=$state/.config swtpm_setup --tpm2 --tpmstate "$state" --pcr-banks sha1,sha256 \
		--createek "${certs[@]}" --config "$conf" --overwrite >"$state/swtpm_setup.log" 2>&1 ||
		die "swtpm_setup failed: $(tail -3 "$state/swtpm_setup.log")"
	if [ -n "$roots" ]; then
		cp "$state.localca/swtpm-localca-rootca-cert.pem" "$state.localca/issuercert.pem" "$roots/"
	fi
}

SWTPM_PID=""
QEMU_PID=""
cleanup() {
	[ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null || true
	[ -n "$SWTPM_PID" ] && kill "$SWTPM_PID" 2>/dev/null || true
}

cmd_boot() {
	local scenario=$1 out=$2 template=${3:-}
	[ -f "$WORK/initrd.gz" ] || die "no initramfs: run '$0 prepare' first"
	local vmlinuz
	vmlinuz=$(ls "$WORK"/kernel/boot/vmlinuz-* | head -1)
	rm -rf "$out" && mkdir -p "$out"
	out=$(cd "$out" && pwd)
	if [ -n "$template" ]; then
		cp -a "$template" "$out/tpmstate"
	else
		cmd_tpm "$out/tpmstate"
	fi
	local initrd=$WORK/initrd.gz
	if [ -n "${E2E_INPUT:-}" ]; then
		# A second (gzipped newc) archive after the first: /e2e/in holds E2E_INPUT's files.
		rm -rf "$out/in" && mkdir -p "$out/in/e2e"
		cp -r "$E2E_INPUT" "$out/in/e2e/in"
		initrd=$out/initrd.gz
		{
			cat "$WORK/initrd.gz"
			(cd "$out/in" && find . -print0 | cpio --null -o -H newc --owner=0:0 --quiet) | gzip -1
		} >"$initrd"
	fi
	trap cleanup EXIT
	# Unix sockets have a 108-byte path limit: keep the socket in a short temporary folder.
	local sockdir
	sockdir=$(mktemp -d /tmp/e2e-swtpm.XXXXXX)
	swtpm socket --tpm2 --tpmstate dir="$out/tpmstate" --ctrl type=unixio,path="$sockdir/sock" \
		--terminate --log file="$out/swtpm.log",level=1 &
	SWTPM_PID=$!
	local i
	for i in $(seq 100); do [ -S "$sockdir/sock" ] && break; sleep 0.05; done
	[ -S "$sockdir/sock" ] || die "swtpm did not create its socket"

	local t0 kargs
	t0=$(now)
	# no_timer_check: on a loaded host the emulated IO-APIC timer check can miss its
	# window and the kernel panics ("IO-APIC + timer doesn't work!"); skip the check.
	kargs="console=ttyS0 no_timer_check rootfstype=ramfs panic=-1"
	[ "${E2E_IMA:-1}" = 0 ] || kargs="$kargs ima_policy=tcb ima_template=ima-ng ima_hash=sha256"
	kargs="$kargs e2e.scenario=$scenario"
	local machine=q35 boot_args fw_args=()
	boot_args=(-kernel "$vmlinuz" -initrd "$initrd" -append "$kargs")
	case "${E2E_FW:-seabios}" in
	seabios) ;;
	ovmf-sb-shim)
		# UEFI firmware and grub under TCG take 2-3 times SeaBIOS's boot (vm_timeout).
		esp_image "$out" "$vmlinuz" "$kargs" "$initrd"
		cp /usr/share/OVMF/OVMF_VARS_4M.ms.fd "$out/vars.fd"
		machine=q35,smm=on
		# -nic none: q35's default NIC loads an iPXE option ROM, measured into PCR 2.
		fw_args=(-global driver=cfi.pflash01,property=secure,value=on
			-drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.ms.fd
			-drive if=pflash,format=raw,unit=1,file="$out/vars.fd" -nic none)
		boot_args=(-drive if=none,id=esp,format=raw,file="$out/esp.img" -device virtio-blk-pci,drive=esp,bootindex=0)
		;;
	*) die "E2E_FW must be seabios or ovmf-sb-shim, not '$E2E_FW'" ;;
	esac
	qemu-system-x86_64 -machine "$machine" -accel tcg -cpu max -smp 2 -m 1024 -nographic -no-reboot \
		"${fw_args[@]}" -serial mon:stdio -serial file:"$out/ttyS1.out" \
		"${boot_args[@]}" \
		-chardev socket,id=chrtpm,path="$sockdir/sock" \
		-tpmdev emulator,id=tpm0,chardev=chrtpm -device tpm-tis,tpmdev=tpm0 \
		</dev/null >"$out/console.log" 2>&1 &
	QEMU_PID=$!
	local rc=0 deadline VM_TIMEOUT
	VM_TIMEOUT=$(vm_timeout)
	deadline=$(($(date +%s) + VM_TIMEOUT))
	while kill -0 "$QEMU_PID" 2>/dev/null; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			say "boot $scenario: timeout after ${VM_TIMEOUT}s (console: $out/console.log)"
			kill "$QEMU_PID"
			rc=1
			break
		fi
		sleep 0.1
	done
	wait "$QEMU_PID" || rc=$?
	QEMU_PID=""
	local secs
	secs=$(since "$t0")
	wait "$SWTPM_PID" 2>/dev/null || true # --terminate: swtpm ends with QEMU's connection
	SWTPM_PID=""
	rm -rf "$sockdir"
	echo "boot $secs" >"$out/times"
	[ "$rc" = 0 ] || die "boot $scenario: qemu exit status $rc (console: $out/console.log)"
	extract "$out"
	say "boot $scenario: ${secs}s, guest files: $(cd "$out/files" && ls | tr '\n' ' ')"
}

# esp_image OUT VMLINUZ KARGS: OUT/esp.img, a FAT EFI system partition with
# Debian's Microsoft-signed shim as the removable-media loader, Debian's
# signed grub beside it, a grub.cfg booting the (Debian-signed) kernel with
# KARGS, and the initramfs.
esp_image() {
	local out=$1 vmlinuz=$2 kargs=$3 initrd=$4 img=$1/esp.img
	local shim=$WORK/shim/usr/lib/shim/shimx64.efi.signed
	local grub=$WORK/grub/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed
	[ -f "$shim" ] && [ -f "$grub" ] || die "no signed shim or grub in $WORK: run '$0 prepare'"
	[ -f /usr/share/OVMF/OVMF_CODE_4M.ms.fd ] || die "no /usr/share/OVMF/OVMF_CODE_4M.ms.fd: install the Debian package ovmf"
	command -v mcopy >/dev/null && command -v mkfs.vfat >/dev/null || die "no mcopy or mkfs.vfat: install the Debian packages mtools and dosfstools"
	printf 'set timeout=0\nlinux /vmlinuz %s\ninitrd /initrd.gz\nboot\n' "$kargs" >"$out/grub.cfg"
	rm -f "$img"
	mkfs.vfat -C -n ESP "$img" 65536 >/dev/null
	mmd -i "$img" ::/EFI ::/EFI/BOOT ::/EFI/debian
	mcopy -i "$img" "$shim" ::/EFI/BOOT/BOOTX64.EFI
	mcopy -i "$img" "$grub" ::/EFI/BOOT/grubx64.efi
	mcopy -i "$img" "$out/grub.cfg" ::/EFI/BOOT/grub.cfg
	mcopy -i "$img" "$out/grub.cfg" ::/EFI/debian/grub.cfg
	mcopy -i "$img" "$vmlinuz" ::/vmlinuz
	mcopy -i "$img" "$initrd" ::/initrd.gz
}

# extract OUT: the guest writes sections "=====BEGIN name=====" ... "=====END name=====" on
# its second serial port; section "out" is a base64 tar of the guest's /out.
extract() {
	local out=$1
	tr -d '\r' <"$out/ttyS1.out" >"$out/ttyS1.txt"
	grep -q '^=====DONE=====$' "$out/ttyS1.txt" ||
		die "guest did not finish (no DONE mark on ttyS1); console tail: $(tail -5 "$out/console.log" | tr '\n' '|')"
	mkdir -p "$out/files"
	awk '$0=="=====END out=====" {f=0} f {print} $0=="=====BEGIN out=====" {f=1}' "$out/ttyS1.txt" |
		base64 -d | tar -x -C "$out/files"
}

case "${1:-}" in
prepare) cmd_prepare ;;
timeout) vm_timeout ;;
tpm) [ $# = 2 ] || [ $# = 3 ] || { echo "usage: $0 tpm STATE [EKROOTS]" >&2; exit 2; }; cmd_tpm "$2" "${3:-}" ;;
boot) [ $# -ge 3 ] || { echo "usage: $0 boot SCENARIO OUT [STATE]" >&2; exit 2; }; cmd_boot "$2" "$3" "${4:-}" ;;
*) echo "usage: $0 prepare | timeout | tpm STATE [EKROOTS] | boot SCENARIO OUT [STATE]" >&2; exit 2 ;;
esac
