package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/internal/swtpmtest"
	"github.com/attest-build/attest-build/provenance"
)

// A build signed by the TPM-resident key (-k tpm) carries the key's
// certification and the AK certificate chain, and verifies with the key's
// public key as any DSSE signer's.
func TestBuildWithTPMKeyAndAKCert(t *testing.T) {
	sw := swtpmtest.Start(t)
	dir := t.TempDir()
	f := func(name string) string { return filepath.Join(dir, name) }
	caDir := f("ca")
	mustRun(t, "ca", "init", "--dir", caDir)
	mustRun(t, "tpm", "enroll-request", "--tpm", sw.Ref(), "-o", f("req.json"))
	mustRun(t, "ca", "challenge", "--ca", caDir, "--software-ek-roots", sw.EKRoots(), "-o", f("chal.json"), f("req.json"))
	mustRun(t, "tpm", "activate", "--tpm", sw.Ref(), "-o", f("resp.json"), f("chal.json"))
	mustRun(t, "ca", "issue", "--ca", caDir, "-o", f("ak.pem"), f("resp.json"))
	auth := f("conf/key.auth")
	mustRun(t, "tpm", "signing-key", "--tpm", sw.Ref(), "--tpm-key-auth", auth, "--out", f("signing.pub"))

	t.Chdir(dir)
	mustRun(t, append(noIMALog(t, "--tpm", sw.Ref(), "-k", "tpm", "--tpm-key-auth", auth, "--ak-cert", f("ak.pem")),
		"-a", "a.bin", "--", "sh", "-c", "echo a > a.bin")...)
	pred := tpmIMAPredicate(t, "a.bin.intoto.jsonl")
	if pred.SigningKey == nil || len(pred.SigningKey.CertifyInfo) == 0 {
		t.Fatal("no signingKey certification in the predicate")
	}
	if n := len(pred.AttestationKey.Certificates); n != 2 {
		t.Fatalf("%d AK certificates carried, want 2 (AK, CA)", n)
	}
	if pred.SigningKey.PublicKeyPEM != mustRead(t, f("signing.pub")) {
		t.Error("predicate's signing key is not the one tpm signing-key printed")
	}
	mustRun(t, "policy", "init", "--from", "a.bin.intoto.jsonl", "--key", f("signing.pub"), "-o", "policy.yaml")
	mustRun(t, "verify", "--policy", "policy.yaml", "a.bin")

	// An AK certificate for another TPM's AK is refused before the build.
	other := swtpmtest.Start(t)
	if _, err := runCLI(t, append(noIMALog(t, "--tpm", other.Ref(), "-k", "tpm", "--tpm-key-auth", f("other.auth"), "--ak-cert", f("ak.pem")),
		"-a", "b.bin", "--", "sh", "-c", "echo b > b.bin")...); err == nil || !strings.Contains(err.Error(), "AK certificate") {
		t.Fatalf("foreign AK certificate: %v", err)
	}
	if _, err := os.Stat("b.bin"); err == nil {
		t.Error("the build ran despite the foreign AK certificate")
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// noIMALog returns args for a build on an swtpm that records
// ima.present=false: the default IMA log, absent on this host (an explicit
// --ima-log that is missing is refused before the build, and an empty log
// does not verify). With the host's own log present, the test skips.
func noIMALog(t *testing.T, args ...string) []string {
	t.Helper()
	if _, err := os.Stat(provenance.DefaultIMALog); err == nil {
		t.Skipf("this host has an IMA log (%s): the test needs an swtpm build with ima.present=false", provenance.DefaultIMALog)
	}
	return args
}
