//go:build simulator && cgo

package provtest

import (
	"sync"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/attest-build/attest-build/evidence"
	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/tpm"
)

// lockedSession serialises a session's TPM commands with the test's own
// PCR extends on the same in-process simulator (the race detector cannot see
// the ordering the build's flag files give).
type lockedSession struct {
	provenance.TPMSession
	mu *sync.Mutex
}

func (s lockedSession) Info() (predicates.TPM, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.TPMSession.Info()
}

func (s lockedSession) AttestationKey() (predicates.AttestationKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.TPMSession.AttestationKey()
}

func (s lockedSession) Quote(nonce []byte) (predicates.Quote, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.TPMSession.Quote(nonce)
}

func lockedOpener(open provenance.TPMOpener, mu *sync.Mutex) provenance.TPMOpener {
	return func() (provenance.TPMSession, error) {
		s, err := open()
		if err != nil {
			return nil, err
		}
		return lockedSession{TPMSession: s, mu: mu}, nil
	}
}

// OpenSimulator opens a new in-process simulator, closed when the test
// ends, and parses pcrs, the selection its quotes cover.
func OpenSimulator(t testing.TB, pcrs string) (*tpm.TPM, tpm.PCRSelection) {
	t.Helper()
	tp, err := tpm.Open("sim")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Close() })
	sel, err := tpm.ParsePCRSelection(pcrs)
	if err != nil {
		t.Fatal(err)
	}
	return tp, sel
}

// SimRig is a Rig on an open simulator: it extends PCR 10 of tp directly.
func SimRig(tp *tpm.TPM, sel tpm.PCRSelection) Rig {
	return Rig{Open: provenance.SharedTPM(tp, sel, tpm.AKOptions{}), Extend: func(t testing.TB, entries []*evidence.Entry) {
		for _, e := range entries {
			PCRExtend(t, tp.Transport(), e)
		}
	}}
}

// simExtender extends PCR 10 of an open TPM in the sha256 bank.
func simExtender(t *testing.T, tp *tpm.TPM, mu *sync.Mutex) func([20]byte, [32]byte) {
	return func(_ [20]byte, td [32]byte) {
		mu.Lock()
		defer mu.Unlock()
		_, err := tpm2.PCRExtend{
			PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(10), Auth: tpm2.PasswordAuth(nil)},
			Digests:   tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{{HashAlg: tpm2.TPMAlgSHA256, Digest: td[:]}}},
		}.Execute(tp.Transport())
		if err != nil {
			t.Errorf("extending PCR 10: %v", err)
		}
	}
}

// LockedSimulator opens a new simulator with the default PCR selection and
// returns it with an opener for Attest and a PCR 10 extender for the test,
// serialised by one lock.
func LockedSimulator(t *testing.T) (*tpm.TPM, provenance.TPMOpener, func([20]byte, [32]byte)) {
	t.Helper()
	tp, sel := OpenSimulator(t, tpm.DefaultPCRSelection)
	mu := new(sync.Mutex)
	return tp, lockedOpener(provenance.SharedTPM(tp, sel, tpm.AKOptions{}), mu), simExtender(t, tp, mu)
}
