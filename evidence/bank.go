package evidence

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"slices"
)

// Bank is a PCR bank, named by its TPM 2.0 hash algorithm. Its value is the
// TPM_ALG_ID of that algorithm (TPM 2.0 Part 2, table 9), so a Bank converts
// to and from go-tpm's tpm2.TPMAlgID without a lookup table.
type Bank uint16

// The PCR banks IMA extends.
const (
	SHA1   Bank = 0x0004
	SHA256 Bank = 0x000B
	SHA384 Bank = 0x000C
	SHA512 Bank = 0x000D
)

// banks lists every supported bank, in TPM_ALG_ID order.
var banks = [...]Bank{SHA1, SHA256, SHA384, SHA512}

// Banks returns every supported bank, in TPM_ALG_ID order (a new slice).
func Banks() []Bank { return slices.Clone(banks[:]) }

// ParseBank returns the bank named s ("sha1", "sha256", "sha384", "sha512").
func ParseBank(s string) (Bank, error) {
	for _, b := range banks {
		if b.String() == s {
			return b, nil
		}
	}
	return 0, fmt.Errorf("%w: bank %q (want sha1, sha256, sha384 or sha512)", ErrUnknownAlgorithm, s)
}

// String returns the bank's name as the kernel and tpm2-tools spell it.
func (b Bank) String() string {
	switch b {
	case SHA1:
		return "sha1"
	case SHA256:
		return "sha256"
	case SHA384:
		return "sha384"
	case SHA512:
		return "sha512"
	}
	return fmt.Sprintf("alg-0x%04x", uint16(b))
}

// Size returns the digest size of the bank's hash in bytes, or 0 for an
// unsupported bank.
func (b Bank) Size() int {
	switch b {
	case SHA1:
		return sha1.Size
	case SHA256:
		return sha256.Size
	case SHA384:
		return sha512.Size384
	case SHA512:
		return sha512.Size
	}
	return 0
}

// Valid reports whether b is a supported bank.
func (b Bank) Valid() bool { return b.Size() != 0 }

// New returns a new hash.Hash for the bank. It panics for an unsupported
// bank; check Valid first on untrusted values.
func (b Bank) New() hash.Hash {
	switch b {
	case SHA1:
		return sha1.New()
	case SHA256:
		return sha256.New()
	case SHA384:
		return sha512.New384()
	case SHA512:
		return sha512.New()
	}
	panic("evidence: unsupported bank " + b.String())
}

// sum appends the bank's digest of p to dst.
func (b Bank) sum(dst, p []byte) []byte {
	switch b {
	case SHA1:
		d := sha1.Sum(p)
		return append(dst, d[:]...)
	case SHA256:
		d := sha256.Sum256(p)
		return append(dst, d[:]...)
	case SHA384:
		d := sha512.Sum384(p)
		return append(dst, d[:]...)
	case SHA512:
		d := sha512.Sum512(p)
		return append(dst, d[:]...)
	}
	panic("evidence: unsupported bank " + b.String())
}

// bankOfSize returns the bank whose digests are n bytes long.
func bankOfSize(n int) (Bank, bool) {
	for _, b := range banks {
		if b.Size() == n {
			return b, true
		}
	}
	return 0, false
}
