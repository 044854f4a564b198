package ekcert

import (
	"testing"
	"time"

	"github.com/attest-build/attest-build/internal/swtpmtest"
	"github.com/attest-build/attest-build/tpm"
)

// swtpm's EK certificates chain to the local CA swtpm_setup made: it
// stands in for a manufacturer in tests.
func TestSwtpmEKChainsToLocalCA(t *testing.T) {
	sw := swtpmtest.Start(t)
	tt, err := tpm.Open(sw.Ref())
	if err != nil {
		t.Fatal(err)
	}
	defer tt.Close()
	info, err := tt.Info()
	if err != nil {
		t.Fatal(err)
	}
	if len(info.EKCerts) != 2 {
		t.Fatalf("%d EK certificates in swtpm NV, want 2 (RSA, ECC)", len(info.EKCerts))
	}
	tr := NewTrust()
	if _, err := tr.Load(ClassSoftware, sw.EKRoots()); err != nil {
		t.Fatal(err)
	}
	for _, e := range info.EKCerts {
		c, err := Parse(e.DER)
		if err != nil {
			t.Fatalf("%s: %v", e.Kind, err)
		}
		if c.Identity.Manufacturer != "id:00001014" {
			t.Errorf("%s: manufacturer %q, want id:00001014 (swtpm)", e.Kind, c.Identity.Manufacturer)
		}
		v, err := tr.Verify(c, nil, nil, time.Now())
		if err != nil {
			t.Fatalf("%s: %v", e.Kind, err)
		}
		if v.Class != ClassSoftware {
			t.Errorf("%s: class %s", e.Kind, v.Class)
		}
	}
	if _, err := hardwareTrust(t).Verify(mustParse(t, info.EKCerts[0].DER), nil, nil, time.Now()); err == nil {
		t.Error("swtpm EK verified against the hardware manufacturers' CAs")
	}
}

func mustParse(t *testing.T, der []byte) *Certificate {
	t.Helper()
	c, err := Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
