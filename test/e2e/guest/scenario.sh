#!/bin/sh
# scenario.sh SCENARIO [MODE]: runs inside the e2e VM as root. It runs the
# project's build (/project/build.sh) the way SCENARIO asks, with TPM quotes
# around it taken as MODE says, and leaves the evidence in /out (tmpfs, not
# measured) for the host. Scenarios:
#
#   good        the plain build
#   disallowed  the build also runs /tmp/fetch-deps.sh, an executable no policy allows
#   violation   the build reads its log while it is open for writing (an IMA open_writers violation)
#
# Modes:
#
#   tpm2        tpm2-tools quote around the build. Files in /out: app.bin (the
#               artifact), ak.pem, {start,end}.{msg,sig,pcrs,nonce}: tpm2_quote
#               over sha256:10 (PCR values in tpm2-tools' serialized format);
#               the end quote's qualifying data is the artifact's SHA-256;
#               product-tpm-info.txt and product-ak.pem from attest-build tpm
#               info and tpm ak on /dev/tpmrm0.
#   product     attest-build --tpm /dev/tpmrm0 -k /e2e/keys/signer.key \
#                   -a out/app.bin -- ./build.sh
#               Files in /out: app.bin, app.bin.intoto.jsonl.
#
# Both modes add binary_runtime_measurements and ascii_runtime_measurements
# (the IMA log read after the end quote), pcr-sha1 and pcr-sha256 (sysfs PCRs
# 0-10 in evmctl's "PCR-NN: hex" format, read right after the log).
set -eu
SCENARIO=${1:-}
MODE=${2:-tpm2}
IMA=/sys/kernel/security/ima

case "$SCENARIO" in
good) ;;
disallowed)
	printf '#!/bin/sh\necho "fetch-deps: downloading extra build inputs"\n' >/tmp/fetch-deps.sh
	chmod +x /tmp/fetch-deps.sh
	export BUILD_HOOKS=/tmp/fetch-deps.sh
	;;
violation) export BUILD_TAIL_LOG=1 ;;
*)
	echo "scenario.sh: unknown scenario '$SCENARIO' (good, disallowed, violation)" >&2
	exit 2
	;;
esac

# attest_tpm2tools: quotes around the build with tpm2-tools (the VM machinery's
# own check, independent of attest-build).
attest_tpm2tools() {
	export TPM2TOOLS_TCTI=device:/dev/tpmrm0
	# The attestation key: an ECC P-256 restricted signing primary key in the owner hierarchy.
	tpm2 createprimary -C o -G ecc256:ecdsa-sha256:null -c /out/ak.ctx \
		-a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign|noda' >/dev/null
	tpm2 readpublic -c /out/ak.ctx -f pem -o /out/ak.pem >/dev/null
	# The product's TPM layer on the real kernel's resource manager.
	attest-build tpm info --tpm /dev/tpmrm0 >/out/product-tpm-info.txt
	attest-build tpm ak --tpm /dev/tpmrm0 --out /out/product-ak.pem >/dev/null
	quote start "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
	/project/build.sh
	cp /project/out/app.bin /out/app.bin
	quote end "$(sha256sum /project/out/app.bin | cut -d' ' -f1)"
}

# quote NAME NONCE: TPM2_Quote over sha256:10 with the AK, qualifying data NONCE (hex).
quote() {
	echo "$2" >"/out/$1.nonce"
	tpm2 quote -c /out/ak.ctx -l sha256:10 -q "$2" -g sha256 \
		-m "/out/$1.msg" -s "/out/$1.sig" -o "/out/$1.pcrs" >/dev/null
}

# attest_product: the product itself wraps the build.
attest_product() {
	cd /project
	attest-build --tpm /dev/tpmrm0 -k /e2e/keys/signer.key -a out/app.bin -- ./build.sh
	cp out/app.bin out/app.bin.intoto.jsonl /out/
}

case "$MODE" in
tpm2) attest_tpm2tools ;;
product) attest_product ;;
*)
	echo "scenario.sh: unknown mode '$MODE' (tpm2, product)" >&2
	exit 2
	;;
esac

# Nothing below may run or read (as root) a file on a measured filesystem that
# has not been measured yet: the log must end where the end quote left PCR 10.
cp $IMA/binary_runtime_measurements /out/binary_runtime_measurements
cp $IMA/ascii_runtime_measurements /out/ascii_runtime_measurements
for bank in sha1 sha256; do
	for i in 0 1 2 3 4 5 6 7 8 9 10; do
		printf 'PCR-%02d: %s\n' $i "$(cat /sys/class/tpm/tpm0/pcr-$bank/$i)"
	done >/out/pcr-$bank
done
echo "scenario $SCENARIO: $(wc -l <$IMA/ascii_runtime_measurements) IMA entries, $(cat $IMA/violations) violations"
