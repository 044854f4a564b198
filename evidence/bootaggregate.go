package evidence

import (
	"errors"
	"fmt"
)

// BootAggregateName is the path of the first entry of every kernel IMA log.
const BootAggregateName = "boot_aggregate"

// ErrBootAggregate reports a log whose first entry is not the kernel's
// boot_aggregate, or whose boot_aggregate is not the hash of the boot PCRs.
var ErrBootAggregate = errors.New("boot_aggregate does not bind the log to the boot")

// BootAggregatePCRs returns how many PCRs, from PCR 0, the kernel's
// boot_aggregate covers in bank b: 0-7 for sha1, 0-9 for every other bank
// (security/integrity/ima/ima_crypto.c, ima_calc_boot_aggregate_tfm:
// PCRs 8 and 9 are left out of the sha1 aggregate "to avoid ambiguity").
func BootAggregatePCRs(b Bank) int {
	if b == SHA1 {
		return 8
	}
	return 10
}

// BootAggregate computes the boot_aggregate digest the kernel logs for
// bank b from that bank's PCR values (pcrs[i] is PCR i, at least
// BootAggregatePCRs(b) of them): the bank's hash of the concatenated
// values of PCRs 0-7 (sha1) or 0-9 (other banks). The kernel logs it as the
// d-ng digest of the first entry, with the bank's algorithm (it picks the
// bank of its IMA hash algorithm if the TPM has one, else sha256, else
// sha1).
func BootAggregate(b Bank, pcrs [][]byte) ([]byte, error) {
	if !b.Valid() {
		return nil, fmt.Errorf("%w: bank %s", ErrUnknownAlgorithm, b)
	}
	n := BootAggregatePCRs(b)
	if len(pcrs) < n {
		return nil, fmt.Errorf("%w: %d PCR values, the %s boot_aggregate needs PCRs 0-%d", ErrDigestSize, len(pcrs), b, n-1)
	}
	h := b.New()
	for i, v := range pcrs[:n] {
		if len(v) != b.Size() {
			return nil, fmt.Errorf("%w: PCR %d has %d bytes, bank %s has %d", ErrDigestSize, i, len(v), b, b.Size())
		}
		h.Write(v)
	}
	return h.Sum(nil), nil
}

// CheckBootAggregate checks that e is a kernel log's first entry: index 0,
// PCR 10, path boot_aggregate, not a violation, and that its digest is the
// kernel's boot_aggregate of the quoted PCRs (CheckBootAggregateDigest). It
// reports whether the digest was compared.
func CheckBootAggregate(e *Entry, pcrs func(Bank) [][]byte) (compared bool, err error) {
	switch {
	case e.Index != 0:
		return false, fmt.Errorf("%w: entry %d is not the first", ErrBootAggregate, e.Index)
	case e.PCR != 10:
		return false, fmt.Errorf("%w: the first entry is for PCR %d, not 10", ErrBootAggregate, e.PCR)
	case e.Path != BootAggregateName:
		return false, fmt.Errorf("%w: the first entry's path is %q, not %s", ErrBootAggregate, e.Path, BootAggregateName)
	case e.Violation():
		return false, fmt.Errorf("%w: the first entry is a violation", ErrBootAggregate)
	}
	return CheckBootAggregateDigest(e.FileDigestAlg, e.FileDigest, pcrs)
}

// CheckBootAggregateDigest is the one boot_aggregate rule (the IMA replay
// and the boot-log check both use it): digest, logged with algorithm alg
// (the entry's d-ng algorithm; sha1 for template ima), must equal
// BootAggregate of the boot PCRs of the bank alg names, which pcrs returns
// (PCRs 0 to BootAggregatePCRs(bank)-1), or nil when the quotes do not
// cover them: then nothing is compared and compared is false. A kernel
// that found no TPM logs an all-zero boot_aggregate, which no quoted PCRs
// produce: it fails with that reason.
func CheckBootAggregateDigest(alg string, digest []byte, pcrs func(Bank) [][]byte) (compared bool, err error) {
	bank, err := ParseBank(alg)
	if err != nil {
		return false, fmt.Errorf("%w: digest algorithm %q is no PCR bank's", ErrBootAggregate, alg)
	}
	values := pcrs(bank)
	if values == nil {
		return false, nil
	}
	want, err := BootAggregate(bank, values)
	if err != nil {
		return false, err
	}
	if string(want) == string(digest) {
		return true, nil
	}
	e := &BootAggregateError{Bank: bank, Logged: digest, Computed: want}
	if len(digest) > 0 && string(digest) == string(make([]byte, len(digest))) {
		e.Reason = "all zeros: IMA found no TPM when the kernel booted"
	}
	return true, e
}

// BootAggregateError is a boot_aggregate that is not the hash of the boot
// PCRs.
type BootAggregateError struct {
	Bank     Bank
	Logged   []byte
	Computed []byte // the bank's hash of the quoted boot PCRs
	Reason   string // why, when it can be told (an all-zero digest)
}

func (e *BootAggregateError) Error() string {
	msg := fmt.Sprintf("%v: logged %s:%x, the quoted %s PCRs 0-%d hash to %x", ErrBootAggregate, e.Bank, e.Logged, e.Bank, BootAggregatePCRs(e.Bank)-1, e.Computed)
	if e.Reason != "" {
		msg += " (" + e.Reason + ")"
	}
	return msg
}

// Is makes errors.Is(err, ErrBootAggregate) true.
func (e *BootAggregateError) Is(target error) bool { return target == ErrBootAggregate }
