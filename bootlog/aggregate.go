package bootlog

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/attest-build/attest-build/evidence"
)

// ErrBootAggregate: IMA's boot_aggregate entry does not match the quoted
// PCRs 0-9. An *AggregateError wraps it.
var ErrBootAggregate = errors.New("IMA boot_aggregate does not match the quoted PCRs 0-9")

// AggregateError reports a boot_aggregate that no quoted PCR set gives.
type AggregateError struct {
	Bank     evidence.Bank
	Logged   []byte // the boot_aggregate entry's digest
	Computed []byte // the bank's hash over the quoted PCRs 0-9
	Reason   string
}

func (e *AggregateError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("IMA boot_aggregate (%v %x): %s", e.Bank, e.Logged, e.Reason)
	}
	return fmt.Sprintf("IMA boot_aggregate is %v:%x, the quoted %v PCRs 0-9 hash to %x", e.Bank, e.Logged, e.Bank, e.Computed)
}

// Is makes errors.Is(err, ErrBootAggregate) true.
func (e *AggregateError) Is(target error) bool { return target == ErrBootAggregate }

// BootAggregate is IMA's boot_aggregate over pcrs in bank b: the bank's
// hash of PCR 0 || PCR 1 || ... || PCR last (Linux 5.8 and later include
// PCRs 8 and 9: last = 9; older kernels hashed PCRs 0-7 of the sha1 bank).
func BootAggregate(b evidence.Bank, pcrs map[int][]byte, last int) ([]byte, error) {
	if !b.Valid() {
		return nil, fmt.Errorf("boot_aggregate: unsupported bank %v", b)
	}
	h := b.New()
	for i := 0; i <= last; i++ {
		v, ok := pcrs[i]
		if !ok {
			return nil, fmt.Errorf("%w: PCR %d is not quoted in the %v bank", ErrNotQuoted, i, b)
		}
		h.Write(v)
	}
	return h.Sum(nil), nil
}

// CheckBootAggregate checks IMA's first entry, boot_aggregate (alg and
// digest as its template recorded them, e.g. "sha256"), against the quoted
// PCRs: the hash of PCRs 0-9 of the bank named by alg must equal digest
// (for sha1 also PCRs 0-7, the rule of kernels before 5.8). An all-zero
// digest (IMA found no TPM at boot) never matches.
func CheckBootAggregate(alg string, digest []byte, pcrs PCRValues) error {
	b, err := evidence.ParseBank(alg)
	if err != nil {
		return &AggregateError{Logged: digest, Reason: err.Error()}
	}
	if bytes.Equal(digest, make([]byte, len(digest))) {
		return &AggregateError{Bank: b, Logged: digest, Reason: "all zeros: IMA found no TPM when the kernel booted"}
	}
	got, err := BootAggregate(b, pcrs[b], 9)
	if err != nil {
		return &AggregateError{Bank: b, Logged: digest, Reason: err.Error()}
	}
	if bytes.Equal(got, digest) {
		return nil
	}
	if b == evidence.SHA1 {
		if old, err := BootAggregate(b, pcrs[b], 7); err == nil && bytes.Equal(old, digest) {
			return nil
		}
	}
	return &AggregateError{Bank: b, Logged: digest, Computed: got}
}
