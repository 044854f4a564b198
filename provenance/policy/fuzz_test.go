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

// FuzzKeylime: any bytes import or fail with ErrKeylime, never panic.
func FuzzKeylime(f *testing.F) {
	f.Add([]byte(`{"meta":{"version":1},"digests":{"/usr/bin/make":["` + "00112233445566778899aabbccddeeff00112233" + `"]},"excludes":["/tmp/.*"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := ParseKeylimeRuntimePolicy(data); err != nil && !errors.Is(err, ErrKeylime) {
			t.Fatalf("err = %v, want ErrKeylime", err)
		}
	})
}
