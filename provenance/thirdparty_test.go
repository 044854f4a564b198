package provenance_test

import (
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/attest-build/attest-build/internal/swtpmtest"
	"github.com/attest-build/attest-build/internal/thirdparty"
	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/provenance/internal/provtest"
)

// Envelopes signed by every key type attest-build generates verify with the
// third-party DSSE verifiers, used as they are by default.
func TestThirdPartyVerifiersAcceptSignedStatements(t *testing.T) {
	st, err := provenance.MarshalStatement([]predicates.Subject{{Name: "a", SHA256: sha256.Sum256([]byte("a"))}}, predicates.SLSAProvenanceType, map[string]any{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []provenance.KeyAlgorithm{provenance.KeyECDSAP256, provenance.KeyECDSAP384, provenance.KeyEd25519, provenance.KeyRSA3072} {
		t.Run(string(alg), func(t *testing.T) {
			prefix := filepath.Join(t.TempDir(), "k")
			s, err := provenance.GenerateKey(prefix, alg, nil)
			if err != nil {
				t.Fatal(err)
			}
			line, err := s.SignStatement(context.Background(), st)
			if err != nil {
				t.Fatal(err)
			}
			thirdparty.Check(t, line, mustReadFile(t, prefix+".pub"))
		})
	}
}

// The signing keys the attestation tests sign with: a key file (ECDSA
// P-256) and the TPM-resident key of -k tpm (ECC P-256, TPM2_Sign).
const (
	fileKey = "file key"
	tpmKey  = "TPM key"
)

var keyKinds = []string{fileKey, tpmKey}

// swtpmSigner starts a real swtpm and returns its opener, a signer of the
// given kind and the path of the signer's public key (PEM).
func swtpmSigner(t *testing.T, kind string) (*swtpmtest.SWTPM, provenance.TPMOpener, *provenance.Signer, string) {
	t.Helper()
	if kind == tpmKey {
		return provtest.SWTPMSigningKey(t)
	}
	sw, open := provtest.SWTPMSetup(t)
	signer, prefix := provtest.TestSigner(t)
	return sw, open, signer, prefix + ".pub"
}

// attestOnSwtpm attests a one-file build on a real swtpm (no IMA log),
// signed by a key of the given kind, with the build environment env (nil:
// the caller's), and returns the attestation file's path and the signer's
// public key file.
func attestOnSwtpm(t *testing.T, kind string, env []string) (out, pubPath string) {
	t.Helper()
	_, open, signer, pubPath := swtpmSigner(t, kind)
	dir := t.TempDir()
	res, err := provenance.Attest(context.Background(), provenance.Options{
		Command:   provenance.Command{Argv: []string{"sh", "-c", "printf 'third party' > out.bin"}, Dir: dir, Env: env, Stdout: io.Discard, Stderr: io.Discard},
		Artifacts: []string{"out.bin"},
		Signer:    signer,
		TPM:       open,
		IMALog:    filepath.Join(dir, "no-ima-log"),
	})
	if err != nil {
		t.Fatal(err)
	}
	checkSigningKey(t, kind, res, pubPath)
	return res.Output, pubPath
}

// checkSigningKey checks that the predicate names the TPM-resident key
// (signingKey, certified by the AK) when, and only when, it signed.
func checkSigningKey(t *testing.T, kind string, res *provenance.Result, pubPath string) {
	t.Helper()
	sk := res.Predicate.SigningKey
	switch {
	case kind == tpmKey && (sk == nil || len(sk.CertifyInfo) == 0):
		t.Fatal("signed by the TPM key, but the predicate has no signingKey certification")
	case kind == tpmKey && sk.PublicKeyPEM != string(mustReadFile(t, pubPath)):
		t.Fatalf("the predicate's signingKey is not the signer's:\n%s", sk.PublicKeyPEM)
	case kind == fileKey && sk != nil:
		t.Fatal("signed by a key file, but the predicate has a signingKey")
	}
}

// A whole attestation made on a real swtpm verifies, line by line, with the
// third-party DSSE verifiers, signed by a key file or by the TPM-resident
// key.
func TestThirdPartyVerifiersAcceptAttestation(t *testing.T) {
	for _, kind := range keyKinds {
		t.Run(kind, func(t *testing.T) {
			out, pubPath := attestOnSwtpm(t, kind, nil)
			thirdparty.Check(t, mustReadFile(t, out), mustReadFile(t, pubPath))
		})
	}
}

func mustReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
