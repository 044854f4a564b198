package tpm

import (
	"errors"
	"testing"

	"github.com/attest-build/attest-build/internal/realtest"
	"github.com/attest-build/attest-build/internal/swtpmtest"
)

// backend opens one kind of real TPM for a test.
type backend struct {
	name string
	open func(t testing.TB) *TPM
}

// backends are the TPM implementations every TPM-side test runs against:
// go-tpm-tools' in-process simulator (Microsoft's reference TPM) and a real
// swtpm process (libtpms).
var backends = []backend{
	{"sim", openSimT},
	{"swtpm", openSwtpmT},
}

func openSimT(t testing.TB) *TPM {
	t.Helper()
	tp, err := Open(RefSim)
	if errors.Is(err, ErrSimulatorUnavailable) {
		realtest.Missing(t, "TPM simulator", "run the tests with cgo and -tags simulator")
	}
	if err != nil {
		t.Fatalf("Open(sim): %v", err)
	}
	t.Cleanup(func() {
		if err := tp.Close(); err != nil {
			t.Errorf("closing simulator: %v", err)
		}
	})
	return tp
}

func openSwtpmT(t testing.TB) *TPM {
	t.Helper()
	s := swtpmtest.Start(t)
	tp, err := Open(s.Ref())
	if err != nil {
		t.Fatalf("Open(%s): %v", s.Ref(), err)
	}
	t.Cleanup(func() { tp.Close() })
	return tp
}
