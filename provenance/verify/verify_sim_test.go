//go:build simulator && cgo

package verify_test

import (
	"os"
	"testing"

	"github.com/attest-build/attest-build/provenance/policy"
	"github.com/attest-build/attest-build/provenance/verify"
)

// TestVerifySimulator: the tamper matrix over an attestation made with the
// in-process simulator; a sim attestation fails a policy without sim.
func TestVerifySimulator(t *testing.T) {
	a := simAttestation(t)
	p := policyFor(t, a, policy.ScopeWindow, nil)
	t.Run("tamper", func(t *testing.T) { runTamperMatrix(t, a, p) })
	t.Run("policy", func(t *testing.T) { runPolicyMatrix(t, a, allowViolations) })

	good, err := os.ReadFile(a.att)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("sim attestation vs a policy without sim", func(t *testing.T) {
		p := policyFor(t, a, policy.ScopeWindow, editPolicy(t, func(m map[string]any) { m["tpmModes"] = []any{"device", "swtpm"} }))
		_, err := verifyBytes(t, p, good, a.artifact)
		wantCheck(t, err, verify.CheckTPMMode)
	})
}
