package provenance

import (
	"bytes"
	"context"
	"errors"
	"testing"
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
	p, err := ParsePolicy([]byte(basePolicy(f)), "fuzz.yaml")
	if err != nil {
		f.Fatal(err)
	}
	v, err := NewVerifier(p)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := v.Verify(context.Background(), bytes.NewReader(data), Artifact{Name: "a"})
		var ce *CheckError
		if !errors.As(err, &ce) {
			t.Fatalf("err = %v, want a *CheckError", err)
		}
		if ce.Check != CheckEnvelope && ce.Check != CheckSignature {
			t.Fatalf("unsigned input refused at check %s, want %s or %s", ce.Check, CheckEnvelope, CheckSignature)
		}
	})
}

// FuzzParsePolicy: any bytes load or fail with a *PolicyError, never panic.
func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(basePolicy(f)))
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
