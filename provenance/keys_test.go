package provenance_test

import (
	"context"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/provenance/internal/provtest"
)

// Every supported key type signs envelopes that verify with its public key
// and carry the empty keyid (EnvelopeKeyID); a plain key is written 0600.
func TestGenerateKeySignVerify(t *testing.T) {
	subjects := []predicates.Subject{{Name: "b", SHA256: sha256.Sum256([]byte("b"))}, {Name: "a", SHA256: sha256.Sum256([]byte("a"))}}
	st, err := provenance.MarshalStatement(subjects, "https://example.com/p/v1", map[string]any{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(st), `"subject":[{"name":"a"`) {
		t.Fatalf("subjects not sorted: %s", st)
	}
	for _, alg := range []provenance.KeyAlgorithm{provenance.KeyECDSAP256, provenance.KeyECDSAP384, provenance.KeyEd25519, provenance.KeyRSA3072} {
		t.Run(string(alg), func(t *testing.T) {
			prefix := filepath.Join(t.TempDir(), "k")
			s, err := provenance.GenerateKey(prefix, alg, nil)
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(prefix + ".key")
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("private key mode %v (%v), want 0600", fi.Mode().Perm(), err)
			}
			loaded, err := provenance.LoadSigner(prefix+".key", nil)
			if err != nil {
				t.Fatal(err)
			}
			if loaded.Fingerprint() != s.Fingerprint() || !strings.HasPrefix(s.Fingerprint(), "sha256:") {
				t.Fatalf("fingerprints %s and %s", loaded.Fingerprint(), s.Fingerprint())
			}
			line, err := loaded.SignStatement(context.Background(), st)
			if err != nil {
				t.Fatal(err)
			}
			sts := writeAndRead(t, line, prefix+".pub")
			if sts != string(st) {
				t.Fatalf("payload %s, want %s", sts, st)
			}
			if _, err := provenance.GenerateKey(prefix, alg, nil); err == nil {
				t.Fatal("GenerateKey overwrote an existing key")
			}
		})
	}
}

func writeAndRead(t *testing.T, line []byte, pub string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "a.intoto.jsonl")
	if err := provenance.WriteJSONL(out, [][]byte{line}); err != nil {
		t.Fatal(err)
	}
	sts := provtest.ReadAttestation(t, out, pub)
	if len(sts) != 1 {
		t.Fatalf("%d statements, want 1", len(sts))
	}
	var env dsse.Envelope
	if err := json.Unmarshal(line, &env); err != nil {
		t.Fatal(err)
	}
	payload, err := env.DecodeB64Payload()
	if err != nil {
		t.Fatal(err)
	}
	return string(payload)
}

// Encrypted keys: sigstore's format written by GenerateKey and cosign's
// "ENCRYPTED COSIGN PRIVATE KEY" form; no password and a wrong password are
// told apart from other failures.
func TestEncryptedKeys(t *testing.T) {
	dir := t.TempDir()
	pw := []byte("correct horse")
	s, err := provenance.GenerateKey(filepath.Join(dir, "enc"), provenance.KeyECDSAP256, pw)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "enc.key"))
	if !strings.Contains(string(data), "ENCRYPTED SIGSTORE PRIVATE KEY") {
		t.Fatalf("not encrypted: %s", data)
	}
	// cosign writes the same encryption under another PEM type.
	cosign := strings.ReplaceAll(string(data), "ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY")
	cosignPath := filepath.Join(dir, "cosign.key")
	os.WriteFile(cosignPath, []byte(cosign), 0o600)
	for _, p := range []string{filepath.Join(dir, "enc.key"), cosignPath} {
		got, err := provenance.LoadSigner(p, pw)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if got.Fingerprint() != s.Fingerprint() {
			t.Fatalf("%s: fingerprint %s, want %s", p, got.Fingerprint(), s.Fingerprint())
		}
		if _, err := provenance.LoadSigner(p, nil); !errors.Is(err, provenance.ErrKeyPassword) {
			t.Fatalf("%s without password: %v, want ErrKeyPassword", p, err)
		}
		_, err = provenance.LoadSigner(p, []byte("wrong"))
		if !errors.Is(err, provenance.ErrKeyPassword) {
			t.Fatalf("%s wrong password: %v, want ErrKeyPassword", p, err)
		}
		if strings.Contains(err.Error(), "wrong\"") || strings.Contains(err.Error(), string(pw)) {
			t.Fatalf("error leaks the password: %v", err)
		}
	}
	// Keys written by other tools: PKCS #8 from sigstore's generator.
	priv, _, err := cryptoutils.GeneratePEMEncodedECDSAKeyPair(elliptic.P384(), cryptoutils.StaticPasswordFunc(pw))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "gen.key")
	os.WriteFile(p, priv, 0o600)
	if _, err := provenance.LoadSigner(p, pw); err != nil {
		t.Fatal(err)
	}
}

// assertNoKeyText fails when err's message holds any line of the key's PEM
// body (or its BEGIN line).
func assertNoKeyText(t *testing.T, err error, pemText string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, line := range strings.Split(pemText, "\n") {
		if len(line) >= 16 && strings.Contains(err.Error(), line) {
			t.Fatalf("the error shows key text %q: %v", line, err)
		}
	}
}

// errPathError stands for "any *fs.PathError" in error tables.
var errPathError = errors.New("a *fs.PathError")

// A key reference may be the PEM text itself (a CI secret in
// ATTEST_BUILD_KEY); it loads like the file, and no error ever shows it.
func TestLoadSignerPEMText(t *testing.T) {
	dir := t.TempDir()
	plain, err := provenance.GenerateKey(filepath.Join(dir, "plain"), provenance.KeyECDSAP256, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := provenance.GenerateKey(filepath.Join(dir, "enc"), provenance.KeyEd25519, []byte("pw")); err != nil {
		t.Fatal(err)
	}
	plainPEM, _ := os.ReadFile(filepath.Join(dir, "plain.key"))
	encPEM, _ := os.ReadFile(filepath.Join(dir, "enc.key"))

	got, err := provenance.LoadSigner(string(plainPEM), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Fingerprint() != plain.Fingerprint() {
		t.Fatalf("fingerprint %s from the PEM text, want %s", got.Fingerprint(), plain.Fingerprint())
	}

	lines := strings.Split(strings.TrimSpace(string(plainPEM)), "\n")
	tests := []struct {
		name     string
		ref      string
		password []byte
		want     error
	}{
		{"encrypted, no password", string(encPEM), nil, provenance.ErrKeyPassword},
		{"encrypted, wrong password", string(encPEM), []byte("wrong"), provenance.ErrKeyPassword},
		{"truncated", strings.Join(lines[:2], "\n"), nil, nil},
		{"no BEGIN line", strings.Join(lines[1:], "\n"), nil, errPathError},
		// A secret pasted without its armour and line breaks: one line of base64.
		{"base64 body on one line", strings.Join(lines[1:len(lines)-1], ""), nil, errPathError},
		{"base64 body, first line", lines[1], nil, errPathError},
		{"KMS URI", "gcpkms://projects/p/keys/k", nil, provenance.ErrUnsupportedKeyRef},
		// A URI may carry credentials: never echoed either.
		{"URI with credentials", "scp://u:SECRETPW@h/x", nil, provenance.ErrUnsupportedKeyRef},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := provenance.LoadSigner(tt.ref, tt.password)
			var pe *fs.PathError
			if err == nil || (tt.want == errPathError && !errors.As(err, &pe)) || (tt.want != nil && tt.want != errPathError && !errors.Is(err, tt.want)) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
			assertNoKeyText(t, err, tt.ref)
		})
	}
}

// key generate never replaces a file: not one that exists (a dangling link
// included), nor one another generator creates while it runs. Of concurrent
// generators with one prefix exactly one wins, and the files on disk are the
// winner's; no temporary file is left.
func TestGenerateKeyNeverReplaces(t *testing.T) {
	dir := t.TempDir()
	for _, existing := range []string{"k1.key", "k2.pub"} {
		if err := os.WriteFile(filepath.Join(dir, existing), []byte("precious"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("nowhere", filepath.Join(dir, "k3.key")); err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"k1", "k2", "k3"} {
		if _, err := provenance.GenerateKey(filepath.Join(dir, prefix), provenance.KeyEd25519, nil); !errors.Is(err, fs.ErrExist) {
			t.Fatalf("%s: err %v, want fs.ErrExist", prefix, err)
		}
	}
	for _, f := range []string{"k1.key", "k2.pub"} {
		if b, err := os.ReadFile(filepath.Join(dir, f)); err != nil || string(b) != "precious" {
			t.Fatalf("%s was replaced: %q %v", f, b, err)
		}
	}
	for _, f := range []string{"k1.pub", "k2.key", "k3.pub"} {
		if _, err := os.Lstat(filepath.Join(dir, f)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s left behind by a failed generate (%v)", f, err)
		}
	}

	const n = 16
	prefix := filepath.Join(dir, "race")
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := provenance.GenerateKey(prefix, provenance.KeyEd25519, nil)
			if errs[i] = err; err == nil {
				ids[i] = s.Fingerprint()
			}
		})
	}
	wg.Wait()
	var winners []string
	for i, err := range errs {
		switch {
		case err == nil:
			winners = append(winners, ids[i])
		case !errors.Is(err, fs.ErrExist):
			t.Fatalf("generator %d: %v", i, err)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d concurrent generators succeeded, want 1", len(winners))
	}
	got, err := provenance.LoadSigner(prefix+".key", nil)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, _ := os.ReadFile(prefix + ".pub")
	pub, err := provenance.LoadPublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	pubID, _ := provenance.KeyFingerprint(pub)
	if got.Fingerprint() != winners[0] || pubID != winners[0] {
		t.Fatalf("on disk: key %s, pub %s; the winner's is %s", got.Fingerprint(), pubID, winners[0])
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 { // internal/atomicfile's temporary files are hidden
		t.Fatalf("temporary files left: %v", left)
	}
}

// The public key given where the private key belongs (-k signing.pub, a
// documented mistake) is named as such, with the file to give instead.
func TestLoadSignerPublicKey(t *testing.T) {
	dir := t.TempDir()
	if _, err := provenance.GenerateKey(filepath.Join(dir, "signing"), provenance.KeyECDSAP256, nil); err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(dir, "signing.pub")
	_, err := provenance.LoadSigner(pub, nil)
	want := "reading signing key " + pub + ": not a private key: this is a public key: give the private key (.key) (" + filepath.Join(dir, "signing.key") + "?)"
	if !errors.Is(err, provenance.ErrNotPrivateKey) || err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("LoadSigner(%s): %v\nwant ErrNotPrivateKey and %q", pub, err, want)
	}
	data, _ := os.ReadFile(pub)
	if _, err := provenance.LoadSigner(string(data), nil); !errors.Is(err, provenance.ErrNotPrivateKey) || strings.Contains(err.Error(), "BEGIN") {
		t.Fatalf("LoadSigner(public PEM text): %v", err)
	}
}
