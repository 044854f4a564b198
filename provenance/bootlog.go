package provenance

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/attest-build/attest-build/bootlog"
	"github.com/attest-build/attest-build/predicates"
)

// DefaultBootLog is where the kernel exposes the firmware's TCG event log.
const DefaultBootLog = "/sys/kernel/security/tpm0/binary_bios_measurements"

// ReasonSimulatorBootLog is the bootLog.reason of an attestation made with
// the embedded simulator and no explicit boot log: the firmware measured
// the boot into the machine's TPM, not into the simulator.
const ReasonSimulatorBootLog = "the TPM is the embedded simulator: the firmware measured the boot into the machine's TPM, not the simulator (give --boot-log to attest a log whose PCRs 0-9 the simulator holds)"

// CollectBootLog reads the firmware event log at path after the end quote
// and carries it, zstd-compressed, when it replays to the end quote's PCRs
// 0-9 (bootlog.(*Log).Verify). Otherwise the predicate records
// present=false and why: no log (no TPM, securityfs not mounted, not
// readable), a log that does not parse, quotes without PCRs 0-9, or a log
// that does not replay to them (e.g. a software TPM that did not see the
// firmware). The build's attestation never fails for its boot log; a
// verifier whose policy speaks of the boot refuses one without it.
func CollectBootLog(path string, end predicates.Quote) (*predicates.BootLog, error) {
	absent := func(format string, a ...any) (*predicates.BootLog, error) {
		return &predicates.BootLog{Present: false, Reason: fmt.Sprintf(format, a...)}, nil
	}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return absent("no firmware event log at %s (no TPM, or securityfs not mounted)", path)
	case err != nil:
		return absent("the firmware event log could not be read: %v", err)
	}
	l, err := bootlog.Parse(data)
	if err != nil {
		return absent("%s: %v", path, err)
	}
	pcrs, err := bootlog.QuotedPCRs(end.PCRs)
	if err != nil {
		return nil, fmt.Errorf("the end quote's PCRs: %w", err)
	}
	if _, err := l.Verify(pcrs); err != nil {
		return absent("the firmware event log %s does not match the end quote: %v", path, err)
	}
	sum := sha256.Sum256(data)
	compressed, err := compressLog(data)
	if err != nil {
		return nil, err
	}
	return &predicates.BootLog{
		Present:  true,
		Encoding: predicates.BootLogEncoding,
		Events:   l.Events(),
		SHA256:   hex.EncodeToString(sum[:]),
		Data:     compressed,
	}, nil
}
