//go:build simulator && cgo

package provenance_test

import (
	"os"
	"testing"

	"github.com/attest-build/attest-build/evidence"
	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/tpm"
)

// TestVerifySimulator: the tamper matrix over an attestation made with the
// in-process simulator; a sim attestation fails a policy without sim.
func TestVerifySimulator(t *testing.T) {
	log := loadVMLog(t)
	tp, err := tpm.Open("sim")
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	sel, err := tpm.ParsePCRSelection("sha256:0-10+sha1:10")
	if err != nil {
		t.Fatal(err)
	}
	r := rig{open: provenance.SharedTPM(tp, sel, tpm.AKOptions{}), extend: func(t testing.TB, entries []*evidence.Entry) {
		for _, e := range entries {
			pcr10Extend(t, tp.Transport(), e)
		}
	}}
	a := attestAround(t, r, log, 30, "hello sim")
	p := policyFor(t, a, provenance.ScopeWindow, nil)
	t.Run("tamper", func(t *testing.T) { runTamperMatrix(t, a, p) })

	good, err := os.ReadFile(a.att)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("sim attestation vs a policy without sim", func(t *testing.T) {
		p := policyFor(t, a, provenance.ScopeWindow, editPolicy(t, func(m map[string]any) { m["tpmModes"] = []any{"device", "swtpm"} }))
		_, err := verifyBytes(t, p, good, a.artifact)
		wantCheck(t, err, provenance.CheckTPMMode)
	})
}
