package provtest

import (
	"encoding/hex"
	"testing"

	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/tpm"
)

func MustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func PCRValues(t *testing.T, ps []predicates.PCR) []tpm.PCRValue {
	t.Helper()
	out := make([]tpm.PCRValue, len(ps))
	for i, p := range ps {
		out[i] = tpm.PCRValue{Bank: p.Bank, Index: p.Index, Value: MustHex(t, p.Value)}
	}
	return out
}
