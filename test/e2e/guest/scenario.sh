#!/bin/sh
# scenario.sh SCENARIO: runs inside the e2e VM as root. It runs the project's
# build (/project/build.sh) under attest-build the way SCENARIO asks:
#
#   good        the plain build
#   disallowed  the build also runs /tmp/fetch-deps.sh, an executable no policy allows
#   violation   the build reads its log while it is open for writing (an IMA open_writers violation)
#   ca-build    the plain build signed by the TPM-resident key (-k tpm) and carrying the AK
#               certificate /e2e/in/ak.pem (from the host's CA, see e2e.sh's E2E_INPUT)
#   baseline    incremental attestation: the plain build with --baseline-dir /out/baselines
#               (attestation /out/first.intoto.jsonl, artifact /out/first/app.bin), then the
#               plain build again with the same flag, continuing the first's baseline
#
# and leaves the evidence in /out (tmpfs, not measured) for the host:
#
#   app.bin, app.bin.intoto.jsonl   the artifact and its attestation, from
#       attest-build --tpm /dev/tpmrm0 -k /e2e/keys/signer.key -a out/app.bin -- ./build.sh
#   binary_runtime_measurements, ascii_runtime_measurements
#                                   the kernel's IMA log, read after attest-build ended
#   pcr-sha1, pcr-sha256            sysfs PCRs 0-10 in evmctl's "PCR-NN: hex" format,
#                                   read right after the log
#   binary_bios_measurements        the firmware's event log (securityfs, not measured)
#
# Enrollment with the host's CA, carried by files (no build, only /out/scenario.*):
#
#   enroll-request  attest-build tpm enroll-request -o /out/req.json
#   activate        attest-build tpm activate -o /out/resp.json /e2e/in/chal.json
set -eu
SCENARIO=${1:-}
IMA=/sys/kernel/security/ima

KEY="-k /e2e/keys/signer.key"
case "$SCENARIO" in
good) ;;
enroll-request)
	attest-build tpm enroll-request --tpm /dev/tpmrm0 -o /out/req.json
	exit 0
	;;
activate)
	attest-build tpm activate --tpm /dev/tpmrm0 -o /out/resp.json /e2e/in/chal.json
	exit 0
	;;
ca-build)
	# The key's authorization file: the attesting user's (root's), never the build's environment.
	mkdir -p /root
	KEY="-k tpm --tpm-key-auth /root/tpm-signing-key.auth --ak-cert /e2e/in/ak.pem"
	;;
disallowed)
	printf '#!/bin/sh\necho "fetch-deps: downloading extra build inputs"\n' >/tmp/fetch-deps.sh
	chmod +x /tmp/fetch-deps.sh
	export BUILD_HOOKS=/tmp/fetch-deps.sh
	;;
violation) export BUILD_TAIL_LOG=1 ;;
baseline)
	# The baselines go to /out (tmpfs, not measured), as the attestations.
	KEY="$KEY --baseline-dir /out/baselines"
	cd /project
	# shellcheck disable=SC2086 # KEY is flags
	attest-build --tpm /dev/tpmrm0 $KEY -a out/app.bin -o /out/first.intoto.jsonl -- ./build.sh
	mkdir -p /out/first && cp out/app.bin /out/first/app.bin # named as its subject
	;;
*)
	echo "scenario.sh: unknown scenario '$SCENARIO' (good, disallowed, violation, ca-build, baseline, enroll-request, activate)" >&2
	exit 2
	;;
esac

cd /project
# The attestation goes straight to /out: written on the measured root, copying
# it out would add an IMA entry after the end quote.
# shellcheck disable=SC2086 # KEY is flags
attest-build --tpm /dev/tpmrm0 $KEY -a out/app.bin -o /out/app.bin.intoto.jsonl -- ./build.sh
# Nothing below may run or read (as root) a file on a measured filesystem that
# has not been measured yet: the log must end where the end quote left PCR 10.
# (app.bin was measured when attest-build hashed it, cp is busybox.)
cp out/app.bin /out/app.bin
cp $IMA/binary_runtime_measurements /out/binary_runtime_measurements
cp $IMA/ascii_runtime_measurements /out/ascii_runtime_measurements
cp /sys/kernel/security/tpm0/binary_bios_measurements /out/binary_bios_measurements
for bank in sha1 sha256; do
	for i in 0 1 2 3 4 5 6 7 8 9 10; do
		printf 'PCR-%02d: %s\n' $i "$(cat /sys/class/tpm/tpm0/pcr-$bank/$i)"
	done >/out/pcr-$bank
done
echo "scenario $SCENARIO: $(wc -l <$IMA/ascii_runtime_measurements) IMA entries, $(cat $IMA/violations) violations"
