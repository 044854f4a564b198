//go:build simulator && cgo

package verify_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"go.yaml.in/yaml/v3"

	"github.com/attest-build/attest-build/provenance/internal/provtest"
	"github.com/attest-build/attest-build/provenance/policy"
	"github.com/attest-build/attest-build/provenance/verify"
	"github.com/attest-build/attest-build/tpm"
)

// simAttestation makes a good attestation with the in-process simulator
// around the vm-debian12-swtpm log: 30 entries before the build, 19 in
// the window (the last, entry 48, is /bin/tpmprobe).
func simAttestation(t testing.TB) *attested {
	t.Helper()
	return simAttestationOf(t, loadVMLog(t), "hello sim")
}

// simAttestationOf makes an attestation of content with a new in-process
// simulator around log: 30 entries before the build, the rest during it.
func simAttestationOf(t testing.TB, log realIMALog, content string) *attested {
	t.Helper()
	return attestAround(t, provtest.SimRig(provtest.OpenSimulator(t, "sha256:0-10+sha1:10")), log, 30, content)
}

// relabelled returns the attestation with entry idx's template renamed, as
// a lying signer would: the log, its SHA-256, the window entries and
// ima.template changed to match and the statement re-signed.
func relabelled(t *testing.T, a *attested, good []byte, idx int, name string) []byte {
	t.Helper()
	changed, _ := predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		editLog(t, pred, func(raw []byte) []byte { return relabel(t, raw, idx, name) })
		showLog(t, pred)
	})(t, a, provtest.Lines(t, good))
	return changed
}

// TestVerifyUndecodableTemplate: the kernel does not hash an entry's
// template name, so a lying signer can rename one; an entry the verifier
// cannot decode into a path and digest must not slip past a deny-only
// policy (no allowlist).
func TestVerifyUndecodableTemplate(t *testing.T) {
	a := simAttestation(t)
	good, err := os.ReadFile(a.att)
	if err != nil {
		t.Fatal(err)
	}
	denyBin := func(templates ...string) *policy.Policy {
		return policyFor(t, a, policy.ScopeWindow, editPolicy(t, func(m map[string]any) {
			ima := m["ima"].(map[string]any)
			delete(ima, "allow")
			ima["deny"] = []any{"/bin/**"}
			if len(templates) > 0 {
				ima["templates"] = templates
			}
		}))
	}
	p := denyBin()
	_, err = verifyBytes(t, p, good, a.artifact)
	if f := wantFinding(t, wantCheck(t, err, verify.CheckIMARules).Report, "deny"); f.Index != 48 || f.Path != "/bin/tpmprobe" {
		t.Fatalf("good attestation: first finding %s, want entry 48 /bin/tpmprobe", f)
	}
	for _, name := range []string{"ima-xx", "d-ng|buf", "d-ng|sig"} {
		t.Run(name, func(t *testing.T) {
			_, err := verifyBytes(t, p, relabelled(t, a, good, 48, name), a.artifact)
			ce := wantCheck(t, err, verify.CheckIMARules)
			if !errors.Is(err, verify.ErrIMARule) {
				t.Errorf("err = %v, want errors.Is ErrIMARule", err)
			}
			if f := wantFinding(t, ce.Report, "template"); f.Index != 48 {
				t.Errorf("finding %s, want entry 48", f)
			}
		})
	}
	t.Run("accepted by ima.templates", func(t *testing.T) {
		rep, err := verifyBytes(t, denyBin("ima-xx"), relabelled(t, a, good, 48, "ima-xx"), a.artifact)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Facts.IMA.Unchecked != 1 {
			t.Errorf("unchecked = %d, want 1", rep.Facts.IMA.Unchecked)
		}
	})
}

// TestVerifyIMABank: the attestation names the bank its log replays
// against; when the quotes cover sha1:10 too, a lying signer could pick
// sha1. The policy's ima.banks decides (sha1 only when named).
func TestVerifyIMABank(t *testing.T) {
	a := simAttestation(t)
	good, err := os.ReadFile(a.att)
	if err != nil {
		t.Fatal(err)
	}
	sha1, _ := predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		imaOf(pred)["bank"] = "sha1"
	})(t, a, provtest.Lines(t, good))
	_, err = verifyBytes(t, policyFor(t, a, policy.ScopeWindow, nil), sha1, a.artifact)
	wantCheck(t, err, verify.CheckIMALog)
	if !errors.Is(err, verify.ErrIMABank) {
		t.Fatalf("err = %v, want errors.Is ErrIMABank", err)
	}
	withSHA1 := policyFor(t, a, policy.ScopeWindow, editPolicy(t, func(m map[string]any) {
		m["ima"].(map[string]any)["banks"] = []any{"sha1"}
	}))
	rep, err := verifyBytes(t, withSHA1, sha1, a.artifact)
	if err != nil {
		t.Fatalf("sha1 named by the policy: %v", err)
	}
	if rep.Facts.IMA.Bank != "sha1" {
		t.Errorf("bank %s, want sha1", rep.Facts.IMA.Bank)
	}
	// The good attestation (sha256) fails a policy that names only sha1.
	_, err = verifyBytes(t, withSHA1, good, a.artifact)
	wantCheck(t, err, verify.CheckIMALog)
}

// TestVerifyWindowEntries: the window entries and ima.template that inspect
// and the action show readers must be those of the replayed log.
func TestVerifyWindowEntries(t *testing.T) {
	a := simAttestation(t)
	good, err := os.ReadFile(a.att)
	if err != nil {
		t.Fatal(err)
	}
	p := policyFor(t, a, policy.ScopeWindow, nil)
	for _, tc := range []struct {
		name string
		edit func(m map[string]any)
	}{
		{"path", func(m map[string]any) { windowEntry(m, 18)["path"] = "/usr/bin/true" }},
		{"digest", func(m map[string]any) { e := windowEntry(m, 3); e["digest"] = flipHexChar(e["digest"].(string)) }},
		{"digest algorithm", func(m map[string]any) { windowEntry(m, 3)["digestAlg"] = "sha1" }},
		{"index", func(m map[string]any) { windowEntry(m, 0)["index"] = 31 }},
		{"template", func(m map[string]any) { windowEntry(m, 5)["template"] = "ima-sig" }},
		{"violation", func(m map[string]any) { windowEntry(m, 7)["violation"] = true }},
		{"one left out", func(m map[string]any) {
			w := m["window"].(map[string]any)
			w["entries"] = w["entries"].([]any)[1:]
		}},
		{"one added", func(m map[string]any) {
			w := m["window"].(map[string]any)
			w["entries"] = append(w["entries"].([]any), windowEntry(m, 0))
		}},
		{"ima.template", func(m map[string]any) { m["template"] = "ima-sig" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			changed, _ := predicateEdit(func(t *testing.T, a *attested, pred map[string]any) { tc.edit(imaOf(pred)) })(t, a, provtest.Lines(t, good))
			_, err := verifyBytes(t, p, changed, a.artifact)
			wantCheck(t, err, verify.CheckIMAReplay)
			if !errors.Is(err, verify.ErrIMALog) {
				t.Errorf("err = %v, want errors.Is ErrIMALog", err)
			}
		})
	}
}

func windowEntry(ima map[string]any, i int) map[string]any {
	return ima["window"].(map[string]any)["entries"].([]any)[i].(map[string]any)
}

// TestPolicyInitStrict: policy init keeps the strict defaults when its
// reference log has violations or entries it cannot decode: it writes
// allowViolations: false and no accepted template, with comments naming
// what it found, so the policy refuses its own reference for those reasons
// until a person decides.
func TestPolicyInitStrict(t *testing.T) {
	a := simAttestation(t)
	good, err := os.ReadFile(a.att)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("violation in boot scope", func(t *testing.T) {
		var doc map[string]any
		p := policyFor(t, a, policy.ScopeBoot, editPolicy(t, func(m map[string]any) { doc = m }))
		if v := doc["ima"].(map[string]any)["allowViolations"]; v != false {
			t.Errorf("allowViolations: %v, want false", v)
		}
		_, err := verifyBytes(t, p, good, a.artifact)
		if f := wantFinding(t, wantCheck(t, err, verify.CheckIMARules).Report, "violation"); f.Index != 8 {
			t.Errorf("finding %s, want entry 8", f)
		}
		if c := imaComment(t, a, policy.ScopeBoot, "allowViolations"); !strings.Contains(c, "entry 8 (/work/out/build.log)") {
			t.Errorf("allowViolations comment does not name entry 8:\n%s", c)
		}
	})
	t.Run("undecodable template in window scope", func(t *testing.T) {
		ref := *a
		ref.att = filepath.Join(t.TempDir(), "relabelled.intoto.jsonl")
		if err := os.WriteFile(ref.att, relabelled(t, a, good, 48, "ima-xx"), 0o644); err != nil {
			t.Fatal(err)
		}
		att := mustRead(t, ref.att)
		p := policyFor(t, &ref, policy.ScopeWindow, nil)
		_, err := verifyBytes(t, p, att, a.artifact)
		if f := wantFinding(t, wantCheck(t, err, verify.CheckIMARules).Report, "template"); f.Index != 48 {
			t.Errorf("finding %s, want entry 48", f)
		}
		if c := imaComment(t, &ref, policy.ScopeWindow, "templates"); !strings.Contains(c, "ima-xx") {
			t.Errorf("templates comment does not name ima-xx:\n%s", c)
		}
		named := policyFor(t, &ref, policy.ScopeWindow, editPolicy(t, func(m map[string]any) {
			m["ima"].(map[string]any)["templates"] = []any{"ima-xx"}
		}))
		if _, err := verifyBytes(t, named, att, a.artifact); err != nil {
			t.Fatalf("ima-xx named in ima.templates: %v", err)
		}
	})
}

// imaComment returns the head comment of key under ima in the policy that
// policy init writes for the attestation.
func imaComment(t *testing.T, a *attested, scope policy.IMAScope, key string) string {
	t.Helper()
	f, err := os.Open(a.att)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out, err := verify.InitPolicy(context.Background(), f, verify.PolicyInitOptions{Scope: scope, SignerKeys: []crypto.PublicKey{a.signer.PublicKey()}})
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "ima" {
			continue
		}
		ima := root.Content[i+1]
		for j := 0; j+1 < len(ima.Content); j += 2 {
			if ima.Content[j].Value == key {
				return ima.Content[j].HeadComment
			}
		}
	}
	t.Fatalf("no ima.%s in the policy:\n%s", key, out)
	return ""
}

// requote re-signs both quotes of an attestation with a software key k
// standing in for the AK, after edit changes the end quote's TPMS_ATTEST,
// and carries k as the attestation key: a TPM cannot make quotes of one
// boot that differ in firmware version or signer name, but the verifier
// must still refuse them.
func requote(t *testing.T, a *attested, good []byte, k *ecdsa.PrivateKey, edit func(end *tpm2.TPMSAttest)) []byte {
	t.Helper()
	pemBytes, err := tpm.PublicKeyPEM(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	fp, err := tpm.Fingerprint(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	changed, _ := predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		ak := pred["attestationKey"].(map[string]any)
		ak["publicKeyPem"], ak["tpmtPublic"], ak["fingerprint"] = string(pemBytes), base64.StdEncoding.EncodeToString(akTPMTPublic(t, &k.PublicKey)), fp
		for _, which := range []string{"start", "end"} {
			q := quote(pred, which)
			at := attestOf(t, q)
			if which == "end" {
				edit(at)
			}
			msg := tpm2.Marshal(at)
			d := sha256.Sum256(msg)
			r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
			if err != nil {
				t.Fatal(err)
			}
			sig := tpm2.Marshal(&tpm2.TPMTSignature{SigAlg: tpm2.TPMAlgECDSA, Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgECDSA,
				&tpm2.TPMSSignatureECC{Hash: tpm2.TPMAlgSHA256, SignatureR: tpm2.TPM2BECCParameter{Buffer: r.Bytes()}, SignatureS: tpm2.TPM2BECCParameter{Buffer: s.Bytes()}})})
			q["attest"], q["signature"] = base64.StdEncoding.EncodeToString(msg), base64.StdEncoding.EncodeToString(sig)
		}
	})(t, a, provtest.Lines(t, good))
	return changed
}

// TestVerifySameBootFirmwareSigner: quotes that agree on reset and restart
// counts but differ in firmware version or qualified signer are not of one
// boot and one AK. The quotes are re-signed by a software key the policy
// trusts (made from the unchanged re-signed attestation, which passes).
func TestVerifySameBootFirmwareSigner(t *testing.T) {
	a := simAttestation(t)
	good := mustRead(t, a.att)
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ref := *a
	ref.att = filepath.Join(t.TempDir(), "requoted.intoto.jsonl")
	if err := os.WriteFile(ref.att, requote(t, a, good, k, func(*tpm2.TPMSAttest) {}), 0o644); err != nil {
		t.Fatal(err)
	}
	p := policyFor(t, &ref, policy.ScopeWindow, nil)
	if _, err := verifyBytes(t, p, mustRead(t, ref.att), a.artifact); err != nil {
		t.Fatalf("re-signed by the software AK, unchanged: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(end *tpm2.TPMSAttest)
	}{
		{"firmware version", func(end *tpm2.TPMSAttest) { end.FirmwareVersion++ }},
		{"qualified signer", func(end *tpm2.TPMSAttest) {
			n := bytes.Clone(end.QualifiedSigner.Buffer)
			n[len(n)-1] ^= 1
			end.QualifiedSigner.Buffer = n
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := verifyBytes(t, p, requote(t, a, good, k, tc.edit), a.artifact)
			wantReboot(t, err)
		})
	}
}

// TestVerifyOtherPCRInWindow: the kernel extends IMA entries into PCR 10
// (unless its policy says otherwise); an entry of another PCR up to
// window.end is covered by no quote the verifier checks, so it is refused
// even when the TPM really extended that PCR and PCR 10 replays.
func TestVerifyOtherPCRInWindow(t *testing.T) {
	// The policy of a good attestation; the simulator (one per process, its
	// AK the same in every run) is closed when the subtest ends.
	var p *policy.Policy
	if !t.Run("good attestation", func(t *testing.T) {
		a := simAttestation(t)
		p = policyFor(t, a, policy.ScopeWindow, nil)
		if _, err := verifyBytes(t, p, mustRead(t, a.att), a.artifact); err != nil {
			t.Fatal(err)
		}
	}) {
		t.FailNow()
	}
	if p == nil {
		t.Skip("the good attestation subtest skipped (its log says why)")
	}
	log := loadVMLog(t)
	const idx = 35 // in the window [30, 49)
	var raw []byte
	for i, rec := range log.records {
		if i == idx {
			rec = bytes.Clone(rec)
			binary.LittleEndian.PutUint32(rec, 11)
		}
		raw = append(raw, rec...)
	}
	b := simAttestationOf(t, splitLog(t, raw), "hello sim")
	_, err := verifyBytes(t, p, mustRead(t, b.att), b.artifact, verify.WithSignerKeys(b.signer.PublicKey()))
	ce := wantCheck(t, err, verify.CheckIMAReplay)
	if !errors.Is(err, verify.ErrIMALog) || ce.Found != "PCR 11" {
		t.Fatalf("err = %v (found %q), want ErrIMALog for the PCR 11 entry", err, ce.Found)
	}
}
