package verify_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/attest-build/attest-build/provenance/internal/provtest"
	"github.com/attest-build/attest-build/provenance/policy"
	"github.com/attest-build/attest-build/provenance/verify"
)

// FuzzVerify fuzzes the envelope layer: the file is split into lines, each
// decoded as a DSSE envelope within the size and count caps, and each
// signature tried against the trusted key. A fuzzed input cannot carry a
// signature by that key, so it must be refused at the envelope or
// signature check, never later: nothing unsigned reaches the statement
// parser. FuzzVerifySigned (simulator tag) signs its inputs and fuzzes
// everything after the signature.
func FuzzVerify(f *testing.F) {
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"","sig":"AAAA"}]}`))
	f.Add([]byte("\n\n{}\n"))
	f.Add([]byte(`{"payloadType":"x","payload":"!!","signatures":[]}`))
	p, err := policy.ParsePolicy([]byte(provtest.BasePolicy(f)), "fuzz.yaml")
	if err != nil {
		f.Fatal(err)
	}
	v, err := verify.NewVerifier(p)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := v.Verify(context.Background(), bytes.NewReader(data), verify.Artifact{Name: "a"})
		var ce *verify.CheckError
		if !errors.As(err, &ce) {
			t.Fatalf("err = %v, want a *verify.CheckError", err)
		}
		if ce.Check != verify.CheckEnvelope && ce.Check != verify.CheckSignature {
			t.Fatalf("unsigned input refused at check %s, want %s or %s", ce.Check, verify.CheckEnvelope, verify.CheckSignature)
		}
	})
}

// TestAllChecksCopy: AllChecks returns a copy; changing it changes nothing.
func TestAllChecksCopy(t *testing.T) {
	want := verify.AllChecks()
	c := verify.AllChecks()
	c[0] = "changed"
	if got := verify.AllChecks(); got[0] != verify.CheckEnvelope || !slices.Equal(got, want) {
		t.Errorf("verify.AllChecks() = %v after changing a returned slice", got)
	}
}
