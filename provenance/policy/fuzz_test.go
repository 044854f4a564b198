package policy

import (
	"errors"
	"testing"

	"github.com/attest-build/attest-build/provenance/internal/provtest"
)

// FuzzParsePolicy: any bytes load or fail with a *PolicyError, never panic.
func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(provtest.BasePolicy(f)))
	f.Add([]byte("version: 1\nima:\n  allow:\n    - path: /a/**\n      digests: [sha256:00]\n"))
	f.Add([]byte("version: 1\npcrs:\n  sha256:\n    99: x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := ParsePolicy(data, "fuzz.yaml")
		var pe *PolicyError
		if err != nil && !errors.As(err, &pe) {
			t.Fatalf("err = %v (%T), want a *PolicyError", err, err)
		}
	})
}
