//go:build simulator && cgo

package verify_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/attest-build/attest-build/provenance/internal/provtest"
	"github.com/attest-build/attest-build/provenance/policy"
	"github.com/attest-build/attest-build/provenance/verify"
)

// FuzzVerifyBaseline fuzzes an IMA baseline statement, signed with the
// trusted key, which a good incremental attestation (re-signed) names by
// its digest: statement parsing, the baseline predicate's decoding, its
// quote, decompression and replay, and the chain and fit checks all see
// fuzzed bytes. The verifier must never panic and must answer with a
// report or a *CheckError. Seeds: the good baseline (passes), one naming a
// previous baseline, one with its log cut.
func FuzzVerifyBaseline(f *testing.F) {
	a := attestWith(f, provtest.SimRig(provtest.OpenSimulator(f, "sha256:0-10+sha1:10")), loadVMLog(f), 30, "fuzz", attestConfig{baselineAt: 10})
	good := mustRead(f, a.att)
	p := policyFor(f, a, policy.ScopeBoot, editPolicy(f, func(m map[string]any) {
		ima := m["ima"].(map[string]any)
		ima["maxEntries"] = 4096
		ima["maxLogBytes"] = 1 << 20
		ima["allowViolations"] = true
	}))
	art, err := verify.ArtifactFromFile(a.artifact)
	if err != nil {
		f.Fatal(err)
	}
	benv := provtest.Lines(f, mustRead(f, a.baseline))[0]
	seed, err := base64.StdEncoding.DecodeString(benv.Payload)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	for _, edit := range []func(pred map[string]any){
		func(pred map[string]any) {
			ima := pred["ima"].(map[string]any)
			ima["previous"] = map[string]any{"digest": "sha256:" + sha256hex([]byte("x")), "entries": 5, "pcrValue": sha256hex(nil)}
			ima["log"].(map[string]any)["first"] = 5
		},
		func(pred map[string]any) {
			editLog(f, pred, func(raw []byte) []byte { return raw[:len(raw)/2] })
		},
	} {
		st := statementOf(f, benv)
		edit(st["predicate"].(map[string]any))
		b, err := json.Marshal(st)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	verifyWith := func(t *testing.T, statement []byte) error {
		env, err := a.signer.SignStatement(context.Background(), statement)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "fuzz.baseline.intoto.jsonl")
		if err := os.WriteFile(path, append(env, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(statement)
		att, _ := predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
			imaOf(pred)["baseline"].(map[string]any)["digest"] = "sha256:" + hex.EncodeToString(sum[:])
		})(t, a, provtest.Lines(t, good))
		v, err := verify.NewVerifier(p, verify.WithBaselines(path))
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(context.Background(), bytes.NewReader(att), art)
		return err
	}
	f.Fuzz(func(t *testing.T, statement []byte) {
		err := verifyWith(t, statement)
		if bytes.Equal(statement, seed) && err != nil {
			t.Fatalf("the seed baseline fails: %v", err) // the fuzzer starts past every check
		}
		var ce *verify.CheckError
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("err = %v (%T), want nil or a *CheckError", err, err)
		}
	})
}
