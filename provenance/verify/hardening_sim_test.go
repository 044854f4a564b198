//go:build simulator && cgo

package verify_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/provenance/internal/provtest"
	"github.com/attest-build/attest-build/provenance/verify"
)

// TestVerifyStatementsOfTwoBuilds: no key needed. The trusted signer
// signed the statements of two builds of the same bytes; the TPM/IMA
// statement of one with the SLSA statement of the other used to pass,
// because nothing compared the SLSA byproducts with the evidence present.
func TestVerifyStatementsOfTwoBuilds(t *testing.T) {
	log := loadVMLog(t)
	// The simulator is one per process: the other build's closes with its
	// subtest.
	var otherFile []byte
	t.Run("the other build", func(t *testing.T) {
		otherFile = mustRead(t, simAttestationOf(t, log, "same bytes").att)
	})
	a := simAttestationOf(t, log, "same bytes")
	p := policyFor(t, a, "window", nil)
	good, other := provtest.Lines(t, mustRead(t, a.att)), provtest.Lines(t, otherFile)
	// b's TPM/IMA statement as the trusted signer signed it (b was signed
	// by another key in this test: re-sign its exact payload).
	payload, err := base64.StdEncoding.DecodeString(other[tpmIndex(t, other)].Payload)
	if err != nil {
		t.Fatal(err)
	}
	envB, err := a.signer.SignStatement(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	combined := slices.Clone(good)
	ia := tpmIndex(t, good)
	combined[ia] = provtest.Lines(t, envB)[0]
	_, err = verifyBytes(t, p, joinLines(t, combined), a.artifact)
	wantCheck(t, err, verify.CheckAgree)
	if !errors.Is(err, verify.ErrStatementsDisagree) {
		t.Fatalf("err = %v, want ErrStatementsDisagree", err)
	}
}

// TestVerifyModeIsTheSignersWord: tpm.mode, the builder id's mode and the
// SLSA internalParameters.tpm.mode must agree; changed together (a
// stolen key) they pass a policy that lists the AK and accepts the mode,
// and the report says the mode is the signer's word.
func TestVerifyModeIsTheSignersWord(t *testing.T) {
	a := simAttestation(t)
	good := mustRead(t, a.att)
	device, err := provenance.BuilderID(predicates.ModeDevice, "")
	if err != nil {
		t.Fatal(err)
	}
	both := policyFor(t, a, "window", editPolicy(t, func(m map[string]any) {
		m["tpmModes"] = []any{"sim", "device"}
		m["builderIds"] = append(m["builderIds"].([]any), device)
	}))
	relabel := func(predMode, slsaMode, id string) []byte {
		changed, _ := predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
			pred["tpm"].(map[string]any)["mode"] = predMode
		})(t, a, provtest.Lines(t, good))
		envs := provtest.Lines(t, changed)
		i := 1 - tpmIndex(t, envs)
		st := statementOf(t, envs[i])
		pr := st["predicate"].(map[string]any)
		pr["buildDefinition"].(map[string]any)["internalParameters"].(map[string]any)["tpm"].(map[string]any)["mode"] = slsaMode
		pr["runDetails"].(map[string]any)["builder"].(map[string]any)["id"] = id
		envs[i] = resign(t, a.signer, st)
		return joinLines(t, envs)
	}
	rep, err := verifyBytes(t, both, relabel("device", "device", device), a.artifact)
	if err != nil {
		t.Fatalf("all three relabelled: %v", err)
	}
	if rep.Facts.TPMMode != "device" || !slices.ContainsFunc(rep.Facts.SignersWord, func(s string) bool { return strings.HasPrefix(s, "tpm.mode") }) {
		t.Fatalf("mode %q, signer's word %q: the mode must be listed as the signer's word", rep.Facts.TPMMode, rep.Facts.SignersWord)
	}
	simID, _ := provenance.BuilderID(predicates.ModeSim, "")
	for name, att := range map[string][]byte{
		"predicate and builder id":     relabel("device", "sim", device),
		"predicate and SLSA mode":      relabel("device", "device", simID),
		"builder id and SLSA mode":     relabel("sim", "device", device),
		"builder id of no mode at all": relabel("sim", "sim", "https://ci.example/runner"),
	} {
		t.Run(name, func(t *testing.T) {
			p := both
			if strings.HasSuffix(name, "at all") {
				p = policyFor(t, a, "window", editPolicy(t, func(m map[string]any) {
					m["builderIds"] = append(m["builderIds"].([]any), "https://ci.example/runner")
				}))
			}
			_, err := verifyBytes(t, p, att, a.artifact)
			wantCheck(t, err, verify.CheckAgree)
		})
	}
}

// TestPolicyInitReadsStrictly: policy init --from, without --key (the
// signature is not checked), reads the attestation the one way verify
// does: a predicate with both ima and IMA is refused.
func TestPolicyInitReadsStrictly(t *testing.T) {
	a := simAttestation(t)
	good := mustRead(t, a.att)
	if _, err := verify.InitPolicy(context.Background(), bytes.NewReader(good), verify.PolicyInitOptions{}); err != nil {
		t.Fatalf("the good attestation: %v", err)
	}
	for name, edit := range map[string]func([]byte) []byte{
		"IMA beside ima": func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"predicate":{`), []byte(`"predicate":{"IMA":{"present":false,"reason":"x"},`), 1)
		},
		"a member twice": func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"predicate":{`), []byte(`"predicate":{"build":{"argv":["x"]},`), 1)
		},
	} {
		t.Run(name, func(t *testing.T) {
			changed, _ := rawTPMEdit(func(t *testing.T, body []byte) []byte { return edit(body) })(t, a, provtest.Lines(t, good))
			_, err := verify.InitPolicy(context.Background(), bytes.NewReader(changed), verify.PolicyInitOptions{})
			if !errors.Is(err, verify.ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}
