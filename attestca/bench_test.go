package attestca

import (
	"testing"

	"github.com/attest-build/attest-build/ekcert"
)

// BenchmarkEnrollSwtpm is one whole enrollment by the file protocol on a
// real swtpm: enrollment request (EK certificates read, EK recreated),
// challenge (EK chain, MakeCredential, pending file), activation
// (TPM2_ActivateCredential) and issue. Target: under a second.
func BenchmarkEnrollSwtpm(b *testing.B) {
	sw, tp, ak := benchRunner(b)
	ca, err := Init(b.TempDir(), InitOptions{})
	if err != nil {
		b.Fatal(err)
	}
	trust := ekcert.NewTrust()
	if _, err := trust.Load(ekcert.ClassSoftware, sw.EKRoots()); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		q, err := NewRequest(tp, ak)
		if err != nil {
			b.Fatal(err)
		}
		c, err := ca.Challenge(q, trust)
		if err != nil {
			b.Fatal(err)
		}
		s, err := Activate(tp, ak, c)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ca.Issue(s); err != nil {
			b.Fatal(err)
		}
	}
}
