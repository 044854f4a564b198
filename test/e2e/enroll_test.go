package e2e

import (
	"bytes"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/attest-build/attest-build/internal/realtest"
	"github.com/attest-build/attest-build/provenance/policy"
	"github.com/attest-build/attest-build/provenance/verify"
)

// TestRealKernelEnrollment enrolls the guest's TPM (swtpm with an EK
// certificate from its own swtpm-localca, behind the kernel's /dev/tpmrm0)
// with an attestation CA on the host, carrying the files between boots
// without a network: guest to host over the serial port, host to guest in an
// archive appended to the next boot's initramfs (e2e.sh E2E_INPUT). The TPM's
// state goes from each boot to the next.
//
//	boot enroll-request   tpm enroll-request                  -> req.json
//	host                  ca init; ca challenge --ek-roots    -> chal.json
//	boot activate         tpm activate chal.json              -> resp.json
//	host                  ca issue resp.json                  -> ak.pem
//	boot ca-build         attest-build -k tpm --ak-cert ak.pem -> the attestation
//
// The host verifies that attestation under the policy policy init --from
// writes, which trusts only the CA (no signers, no pinned AK), without
// --key; under the same policy naming another CA, it is refused.
func TestRealKernelEnrollment(t *testing.T) {
	h := newHarness(t)
	realtest.LookPath(t, "swtpm_localca", "swtpm-tools") // the EK certificate's CA (e2e.sh tpm STATE EKROOTS)
	dir := filepath.Join(h.runDir, "enroll")
	ekRoots := filepath.Join(dir, "ek-roots")
	state := filepath.Join(dir, "tpmstate")
	if out, err := h.run("tpm", state, ekRoots); err != nil {
		t.Fatalf("e2e.sh tpm %s %s: %v\n%s", state, ekRoots, err, out)
	}

	request := h.bootNoBuild(t, "enroll-request", "enroll-request", state)

	ca, chalIn := filepath.Join(dir, "ca"), filepath.Join(dir, "in-activate")
	h.attestBuild(t, "ca", "init", "--dir", ca)
	mkdir(t, chalIn)
	h.attestBuild(t, "ca", "challenge", "--ca", ca, "--ek-roots", ekRoots,
		"-o", filepath.Join(chalIn, "chal.json"), request.path("req.json"))
	activate := h.bootWith(t, "activate", "activate", request.tpmState(), "E2E_INPUT="+chalIn)

	certIn := filepath.Join(dir, "in-build")
	mkdir(t, certIn)
	h.attestBuild(t, "ca", "issue", "--ca", ca, "-o", filepath.Join(certIn, "ak.pem"), activate.path("resp.json"))
	build := h.bootEnv(t, "ca-build", "ca-build", activate.tpmState(), "E2E_INPUT="+certIn)

	// The policy policy init writes from the attestation: the CA only.
	caOnly := filepath.Join(dir, "policy.yaml")
	h.attestBuild(t, "policy", "init", "--from", build.att.path, "-o", caOnly)
	p, err := policy.LoadPolicy(caOnly)
	if err != nil {
		t.Fatal(err)
	}
	caPEM := readFile(t, filepath.Join(ca, "ca.pem"))
	caBlock, _ := pem.Decode(caPEM)
	if caBlock == nil {
		t.Fatalf("%s/ca.pem holds no PEM block", ca)
	}
	if n, k := len(p.Signers()), len(p.AttestationKeys()); n != 0 || k != 0 {
		t.Errorf("policy init --from a CA-certified, TPM-signed attestation: %d signers, %d pinned AKs; want none", n, k)
	}
	if cas := p.AttestationKeyCAs(); len(cas) != 1 || !bytes.Equal(cas[0].Certificate.Raw, caBlock.Bytes) {
		t.Fatalf("policy init's attestationKeyCAs %+v: want the one CA of %s", cas, ca)
	}

	t.Run("ca-only/verify", func(t *testing.T) {
		code, r := h.verify(t, caOnly, build.att.path, build.path("app.bin"))
		if code != 0 {
			t.Errorf("verify under the CA-only policy, no --key: exit status %d, want 0 (%s)", code, r.Error)
		}
		wantChecks(t, r, "")
		f := r.Facts
		if want := []verify.VerifiedSubject{{Name: "out/app.bin", SHA256: build.artifactDigest(t)}}; !slices.Equal(f.Subjects, want) {
			t.Errorf("verified subjects %+v, want %+v", f.Subjects, want)
		}
		if f.TPMMode != "device" || f.AKFingerprint != build.att.tpmima.AttestationKey.Fingerprint {
			t.Errorf("verified TPM mode %q, AK %s; want device (the kernel's /dev/tpmrm0), the carried AK %s",
				f.TPMMode, f.AKFingerprint, build.att.tpmima.AttestationKey.Fingerprint)
		}
	})
	t.Run("other-ca/verify", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "other-ca")
		h.attestBuild(t, "ca", "init", "--dir", other, "--name", "another attestation CA")
		otherPolicy := filepath.Join(t.TempDir(), "other-ca.yaml")
		replaceCA(t, h, caOnly, otherPolicy, "another attestation CA", string(readFile(t, filepath.Join(other, "ca.pem"))))
		code, r := h.verify(t, otherPolicy, build.att.path, build.path("app.bin"))
		if code != 1 {
			t.Errorf("verify under a policy trusting another CA: exit status %d, want 1 (%s)", code, r.Error)
		}
		// The DSSE signature is the TPM-resident key's, trusted only
		// through its certification by the AK; the AK's certificate
		// chains to no trusted CA, so the signature check fails (no
		// line says pass for a signer not yet trusted).
		wantChecks(t, r, verify.CheckSignature)
		for _, c := range r.Checks {
			if c.Check == verify.CheckSignature && !strings.Contains(c.Detail, "not trusted") {
				t.Errorf("check %s: %q does not say the AK is not trusted", c.Check, c.Detail)
			}
		}
	})
}

// bootWith boots like bootNoBuild with extra e2e.sh environment.
func (h *harness) bootWith(t *testing.T, name, scenario, tpmState string, env ...string) *boot {
	t.Helper()
	saved := h.env
	h.env = env
	defer func() { h.env = saved }()
	return h.bootNoBuild(t, name, scenario, tpmState)
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

// replaceCA writes policy src to dst with its one attestationKeyCAs entry
// replaced by the CA certificate certPEM named name, and checks it loads.
func replaceCA(t *testing.T, h *harness, src, dst, name, certPEM string) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(readFile(t, src), &doc); err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	cas := mappingValue(doc.Content[0], "attestationKeyCAs")
	if cas == nil || cas.Kind != yaml.SequenceNode || len(cas.Content) != 1 {
		t.Fatalf("%s: want one attestationKeyCAs entry", src)
	}
	if err := cas.Content[0].Encode(map[string]string{"name": name, "certificate": certPEM}); err != nil {
		t.Fatal(err)
	}
	h.writePolicyYAML(t, &doc, dst)
}
