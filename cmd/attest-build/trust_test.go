package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/ekcert"
	"github.com/attest-build/attest-build/internal/swtpmtest"
	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/provenance/verify"
	"go.yaml.in/yaml/v3"
)

// trustEnv is a runner enrolled with a CA, with a TPM-resident signing key.
type trustEnv struct {
	sw          *swtpmtest.SWTPM
	dir, caDir  string
	auth, akPEM string
}

func (e *trustEnv) f(name string) string { return filepath.Join(e.dir, name) }

// enrollRunner makes a CA, enrolls the swtpm's AK under its local CA as
// the given EK anchor flag (--ek-roots: hardware, --software-ek-roots:
// software), and creates the TPM signing key.
func enrollRunner(t *testing.T, rootsFlag string, extra ...string) *trustEnv {
	t.Helper()
	e := &trustEnv{sw: swtpmtest.Start(t), dir: t.TempDir()}
	e.caDir, e.auth, e.akPEM = e.f("ca"), e.f("conf/key.auth"), e.f("ak.pem")
	mustRun(t, "ca", "init", "--dir", e.caDir)
	mustRun(t, "tpm", "enroll-request", "--tpm", e.sw.Ref(), "-o", e.f("req.json"))
	mustRun(t, "ca", "challenge", "--ca", e.caDir, rootsFlag, e.sw.EKRoots(), "-o", e.f("chal.json"), e.f("req.json"))
	mustRun(t, "tpm", "activate", "--tpm", e.sw.Ref(), "-o", e.f("resp.json"), e.f("chal.json"))
	mustRun(t, append([]string{"ca", "issue", "--ca", e.caDir, "-o", e.akPEM, e.f("resp.json")}, extra...)...)
	return e
}

// build attests a build of name with -k tpm and the AK certificate.
func (e *trustEnv) build(t *testing.T, name string) string {
	t.Helper()
	mustRun(t, append(noIMALog(t, "--tpm", e.sw.Ref(), "-k", "tpm", "--tpm-key-auth", e.auth, "--ak-cert", e.akPEM),
		"-a", name, "--", "sh", "-c", "echo "+name+" > "+name)...)
	return name + ".intoto.jsonl"
}

func verifyExit(t *testing.T, args ...string) (string, int) {
	t.Helper()
	stdout, stderr, code := runMain(t, "", append([]string{"verify"}, args...)...)
	return stdout + stderr, code
}

// The goal of issue 14: a policy that names only the attestation CA (no
// signer, no AK) accepts an attestation from an enrolled TPM signed by its
// TPM-resident key, and refuses every substitution.
func TestCAOnlyPolicy(t *testing.T) {
	e := enrollRunner(t, "--software-ek-roots")
	t.Chdir(e.dir)
	att := e.build(t, "a.bin")
	mustRun(t, "policy", "init", "--from", att, "-o", "policy.yaml")
	pol := mustRead(t, "policy.yaml")
	for _, want := range []string{"attestationKeyCAs:", "BEGIN CERTIFICATE"} {
		if !strings.Contains(pol, want) {
			t.Fatalf("policy init wrote no %q:\n%s", want, pol)
		}
	}
	for _, unwanted := range []string{"attestationKeys:", "BEGIN PUBLIC KEY"} {
		if strings.Contains(pol, unwanted) {
			t.Fatalf("the CA-only policy pins a key (%q):\n%s", unwanted, pol)
		}
	}
	if out, code := verifyExit(t, "--policy", "policy.yaml", "a.bin"); code != 0 {
		t.Fatalf("CA-only verify: exit %d\n%s", code, out)
	}
	// The signature check trusts the TPM-resident key only through its
	// certification by the CA-trusted AK, and says so.
	r, code := verifyReport(t, "--policy", "policy.yaml", "a.bin")
	if sig := checkOf(t, r, verify.CheckSignature); code != 0 || sig.Status != verify.StatusPass || !strings.Contains(sig.Detail, "TPM-resident key certified by AK "+r.Facts.AKFingerprint) {
		t.Fatalf("CA-only verify: exit %d, signature %+v, AK %s", code, sig, r.Facts.AKFingerprint)
	}
	// A second build of the same runner needs nothing new.
	e.build(t, "b.bin")
	if out, code := verifyExit(t, "--policy", "policy.yaml", "b.bin"); code != 0 {
		t.Fatalf("second build: exit %d\n%s", code, out)
	}

	t.Run("another CA", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "ca")
		mustRun(t, "ca", "init", "--dir", other)
		var doc map[string]any
		if err := yaml.Unmarshal([]byte(pol), &doc); err != nil {
			t.Fatal(err)
		}
		doc["attestationKeyCAs"] = []any{map[string]any{"name": "other", "certificateFile": filepath.Join(other, "ca.pem")}}
		b, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, "other-ca.yaml", string(b))
		// The TPM-resident key is trusted only through the AK, which
		// no trusted CA certified: no line may say the signature
		// passed.
		r, code := verifyReport(t, "--policy", "other-ca.yaml", "a.bin")
		sig := checkOf(t, r, verify.CheckSignature)
		if code != 1 || sig.Status != verify.StatusFail || !strings.Contains(sig.Detail, "attestation key not trusted") || sig.Expected == "" || sig.Found == "" {
			t.Fatalf("policy of another CA: exit %d, signature check %+v", code, sig)
		}
		for _, c := range r.Checks {
			if c.Status == verify.StatusPass && c.Check != verify.CheckEnvelope {
				t.Errorf("policy of another CA: check %s passed before the signer was trusted: %+v", c.Check, c)
			}
		}
		if len(r.Facts.Signers) != 0 {
			t.Errorf("policy of another CA: signers %q reported", r.Facts.Signers)
		}
	})
	t.Run("envelopes swapped (the TPM/IMA statement not first)", func(t *testing.T) {
		lines := bytes.Split(bytes.TrimSpace([]byte(mustRead(t, att))), []byte("\n"))
		writeFile(t, "swapped.intoto.jsonl", string(bytes.Join([][]byte{lines[1], lines[0]}, []byte("\n")))+"\n")
		r, code := verifyReport(t, "--policy", "policy.yaml", "--attestation", "swapped.intoto.jsonl", "a.bin")
		if sig := checkOf(t, r, verify.CheckSignature); code != 1 || sig.Status != verify.StatusFail || !strings.Contains(sig.Found, "not the TPM/IMA one") {
			t.Fatalf("swapped envelopes: exit %d, signature check %+v", code, sig)
		}
	})
	t.Run("bundles in either order", func(t *testing.T) {
		mustRun(t, append(noIMALog(t, "--tpm", e.sw.Ref(), "-k", "tpm", "--tpm-key-auth", e.auth, "--ak-cert", e.akPEM, "--bundle"),
			"-a", "d.bin", "--", "sh", "-c", "echo d > d.bin")...)
		tpmB, slsaB := "d.bin.tpm-ima"+provenance.BundleSuffix, "d.bin.slsa"+provenance.BundleSuffix
		for _, order := range [][]string{{tpmB, slsaB}, {slsaB, tpmB}} {
			if out, code := verifyExit(t, "--policy", "policy.yaml", "--bundle", order[0], "--bundle", order[1], "d.bin"); code != 0 {
				t.Fatalf("bundles %v: exit %d\n%s", order, code, out)
			}
		}
	})
	t.Run("signed by a file key, not the certified key", func(t *testing.T) {
		prefix := filepath.Join(t.TempDir(), "file")
		mustRun(t, "key", "generate", "--out", prefix)
		mustRun(t, append(noIMALog(t, "--tpm", e.sw.Ref(), "-k", prefix+".key", "--ak-cert", e.akPEM), "-a", "c.bin", "--", "sh", "-c", "echo c > c.bin")...)
		out, code := verifyExit(t, "--policy", "policy.yaml", "c.bin")
		if code != 1 || !strings.Contains(out, "signature") {
			t.Fatalf("file-key signature under a CA-only policy: exit %d\n%s", code, out)
		}
	})
	t.Run("tpm.mode relabelled", func(t *testing.T) {
		relabel(t, e, att, "relabelled.intoto.jsonl")
		p := strings.Replace(pol, "tpmModes: [swtpm]", "tpmModes: [device]", 1)
		p = strings.ReplaceAll(p, "/tpm-swtpm/", "/tpm-device/")
		writeFile(t, "device.yaml", p)
		out, code := verifyExit(t, "--policy", "device.yaml", "--attestation", "relabelled.intoto.jsonl", "a.bin")
		if code != 1 || !strings.Contains(out, "enrolled under a software EK anchor") {
			t.Fatalf("swtpm relabelled device: exit %d\n%s", code, out)
		}
	})
}

// An AK certificate that expired before the build is refused.
func TestCAOnlyPolicyExpiredAKCert(t *testing.T) {
	e := enrollRunner(t, "--software-ek-roots", "--validity", "1ms")
	t.Chdir(e.dir)
	att := e.build(t, "a.bin")
	// policy init itself checks the chain: write the CA policy by hand.
	pol := "version: 1\nattestationKeyCAs:\n  - name: ca\n    certificateFile: " + filepath.Join(e.caDir, "ca.pem") +
		"\nbuilderIds: [\"https://github.com/attest-build/attest-build/builders/tpm-swtpm/v0.1\"]\ntpmModes: [swtpm]\nima:\n  required: false\n"
	writeFile(t, "policy.yaml", pol)
	out, code := verifyExit(t, "--policy", "policy.yaml", "--attestation", att, "a.bin")
	if code != 1 || !strings.Contains(out, "expired") {
		t.Fatalf("expired AK certificate: exit %d\n%s", code, out)
	}
}

// relabel rewrites an attestation's TPM mode (swtpm -> device) in both
// statements and signs them again with the runner's TPM key, as a runner
// that holds the key could.
func relabel(t *testing.T, e *trustEnv, in, out string) {
	t.Helper()
	open, release, err := provenance.OpenTPM(provenance.TPMConfig{Ref: e.sw.Ref(), SigningKey: &provenance.TPMKey{AuthFile: e.auth}})
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	signer, err := provenance.NewTPMSigner(open)
	if err != nil {
		t.Fatal(err)
	}
	resign(t, signer, in, out, func(p []byte) []byte {
		p = bytes.ReplaceAll(p, []byte(`"mode":"swtpm"`), []byte(`"mode":"device"`))
		p = bytes.ReplaceAll(p, []byte(`/tpm-swtpm/`), []byte(`/tpm-device/`))
		return bytes.ReplaceAll(p, []byte(`"tpmMode":"swtpm"`), []byte(`"tpmMode":"device"`))
	})
}

// resign rewrites each statement of an attestation with edit and signs
// them again with signer, as a liar holding the signing key could: the
// SLSA statement's byproducts are made to name the edited TPM/IMA
// statement (issue 12's statements-agree), so that only the checks of
// what edit changed can refuse it.
func resign(t *testing.T, signer *provenance.Signer, in, out string, edit func(payload []byte) []byte) {
	t.Helper()
	var payloads [][]byte
	var tpmStmt []byte
	for _, line := range bytes.Split(bytes.TrimSpace([]byte(mustRead(t, in))), []byte("\n")) {
		var env struct{ Payload []byte }
		if err := json.Unmarshal(line, &env); err != nil {
			t.Fatal(err)
		}
		p := edit(env.Payload)
		if bytes.Contains(p, []byte(predicates.TPMIMAType)) {
			tpmStmt = p
		}
		payloads = append(payloads, p)
	}
	var st struct {
		Predicate predicates.TPMIMA `json:"predicate"`
	}
	if err := json.Unmarshal(tpmStmt, &st); err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	for _, p := range payloads {
		if !bytes.Equal(p, tpmStmt) {
			var m map[string]any
			if err := json.Unmarshal(p, &m); err != nil {
				t.Fatal(err)
			}
			var bps []any
			for _, rd := range predicates.Byproducts(tpmStmt, &st.Predicate) {
				bps = append(bps, map[string]any{"name": rd.GetName(), "digest": map[string]any{"sha256": rd.GetDigest()["sha256"]}})
			}
			m["predicate"].(map[string]any)["runDetails"].(map[string]any)["byproducts"] = bps
			var err error
			if p, err = json.Marshal(m); err != nil {
				t.Fatal(err)
			}
		}
		signed, err := signer.SignStatement(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, signed)
	}
	if err := provenance.WriteJSONL(out, lines); err != nil {
		t.Fatal(err)
	}
}

// verifyReport runs verify --format json and returns the one result.
func verifyReport(t *testing.T, args ...string) (verify.AttestationResult, int) {
	t.Helper()
	stdout, stderr, code := runMain(t, "", append([]string{"verify", "--format", "json"}, args...)...)
	var out verify.VerifyOutput
	if err := json.Unmarshal([]byte(stdout), &out); err != nil || len(out.Results) != 1 {
		t.Fatalf("verify %q: exit %d, %v\n%s%s", args, code, err, stdout, stderr)
	}
	return out.Results[0], code
}

// checkOf returns the report's line for check c.
func checkOf(t *testing.T, r verify.AttestationResult, c verify.Check) verify.CheckResult {
	t.Helper()
	for _, cr := range r.Checks {
		if cr.Check == c {
			return cr
		}
	}
	t.Fatalf("no check %s in %+v", c, r.Checks)
	return verify.CheckResult{}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Under a hardware EK anchor the AK's TPM is a device: an attestation that
// says so passes a device-only CA policy, one that says swtpm does not; a
// revoked AK certificate is refused once the policy names the CA's CRL.
func TestCAOnlyPolicyHardwareClassAndCRL(t *testing.T) {
	e := enrollRunner(t, "--ek-roots")
	t.Chdir(e.dir)
	att := e.build(t, "a.bin")
	relabel(t, e, att, "device.intoto.jsonl")
	pol := "version: 1\nattestationKeyCAs:\n  - name: corp\n    certificateFile: " + filepath.Join(e.caDir, "ca.pem") +
		"\nbuilderIds: [\"https://github.com/attest-build/attest-build/builders/tpm-device/v0.1\", \"https://github.com/attest-build/attest-build/builders/tpm-swtpm/v0.1\"]\ntpmModes: [device, swtpm]\nima:\n  required: false\n"
	writeFile(t, "policy.yaml", pol)
	if out, code := verifyExit(t, "--policy", "policy.yaml", "--attestation", "device.intoto.jsonl", "a.bin"); code != 0 {
		t.Fatalf("device under a hardware enrollment: exit %d\n%s", code, out)
	}
	out, code := verifyExit(t, "--policy", "policy.yaml", "--attestation", att, "a.bin")
	if code != 1 || !strings.Contains(out, "enrolled under a hardware EK anchor") {
		t.Fatalf("swtpm mode under a hardware enrollment: exit %d\n%s", code, out)
	}

	certs, err := ekcert.ReadCertificates(e.akPEM)
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, "ca", "revoke", "--ca", e.caDir, certs[0].SerialNumber.Text(16))
	writeFile(t, "crl.yaml", strings.Replace(pol, "\nbuilderIds:", "\n    crlFile: "+filepath.Join(e.caDir, "crl.pem")+"\nbuilderIds:", 1))
	out, code = verifyExit(t, "--policy", "crl.yaml", "--attestation", "device.intoto.jsonl", "a.bin")
	if code != 1 || !strings.Contains(out, "revoked") {
		t.Fatalf("revoked AK certificate: exit %d\n%s", code, out)
	}
}
