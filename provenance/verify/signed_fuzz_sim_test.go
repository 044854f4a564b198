//go:build simulator && cgo

package verify_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance/internal/provtest"
	"github.com/attest-build/attest-build/provenance/policy"
	"github.com/attest-build/attest-build/provenance/verify"
)

// FuzzVerifySigned fuzzes the code after the signature check: each input
// is a TPM/IMA statement, signed with the trusted key and verified beside
// the good SLSA statement against a policy made from a real simulator
// attestation, so that statement parsing, predicate decoding, the quotes,
// decompression, the replay and the rules all see fuzzed bytes. The verifier must
// never panic and must answer with a report or a *CheckError.
//
// Seeds: the TPM/IMA statement of a good attestation around the real
// vm-debian12-swtpm log, and variants a lying signer would make (a renamed
// template, window entries and bank edited, the log in the older gzip
// encoding). The inputs are large (the
// statement carries the log), so minimizing a new input is slow: run it
// with -fuzzminimizetime=10x (docs/verify.md).
func FuzzVerifySigned(f *testing.F) {
	a := simAttestation(f)
	good := mustRead(f, a.att)
	envs := provtest.Lines(f, good)
	ti := tpmIndex(f, envs)
	// Small IMA limits keep a fuzzed zstd or gzip bomb cheap; the seed fits them.
	p := policyFor(f, a, policy.ScopeBoot, editPolicy(f, func(m map[string]any) {
		ima := m["ima"].(map[string]any)
		ima["maxEntries"] = 4096
		ima["maxLogBytes"] = 1 << 20
		ima["allowViolations"] = true // entry 8 of the log, in boot scope
	}))
	v, err := verify.NewVerifier(p)
	if err != nil {
		f.Fatal(err)
	}
	art, err := verify.ArtifactFromFile(a.artifact)
	if err != nil {
		f.Fatal(err)
	}
	payload := func(e provtest.EnvelopeJSON) []byte {
		b, err := base64.StdEncoding.DecodeString(e.Payload)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	f.Add(payload(envs[ti]))
	// The seed passes: the fuzzer starts past every check.
	if _, err := v.Verify(context.Background(), bytes.NewReader(good), art); err != nil {
		f.Fatalf("the seed attestation fails the fuzz policy: %v", err)
	}
	for _, edit := range []func(pred map[string]any){
		func(pred map[string]any) {
			editLog(f, pred, func(raw []byte) []byte { return relabel(f, raw, 48, "d-ng|buf") })
			showLog(f, pred)
		},
		func(pred map[string]any) { imaOf(pred)["bank"] = "sha1" },
		func(pred map[string]any) { windowEntry(imaOf(pred), 0)["path"] = "/x" },
		func(pred map[string]any) { reencodeLog(f, imaOf(pred), predicates.IMALogEncodingGzip) },
	} {
		st := statementOf(f, envs[ti])
		edit(st["predicate"].(map[string]any))
		b, err := json.Marshal(st)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	other := envs[1-ti]
	f.Fuzz(func(t *testing.T, statement []byte) {
		env, err := a.signer.SignStatement(context.Background(), statement)
		if err != nil {
			t.Fatal(err)
		}
		doc := append(append(env, '\n'), joinLines(t, []provtest.EnvelopeJSON{other})...)
		_, err = v.Verify(context.Background(), bytes.NewReader(doc), art)
		var ce *verify.CheckError
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("err = %v (%T), want nil or a *CheckError", err, err)
		}
	})
}
