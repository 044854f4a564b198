package provenance

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/attest-build/attest-build/internal/swtpmtest"
	"github.com/attest-build/attest-build/tpm"
)

func TestTPMSignerOnSwtpm(t *testing.T) {
	sw := swtpmtest.Start(t)
	authFile := filepath.Join(t.TempDir(), "conf", "key.auth")
	open, release, err := OpenTPM(TPMConfig{Ref: sw.Ref(), SigningKey: &TPMKey{AuthFile: authFile, Create: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	fi, err := os.Stat(authFile)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != TPMKeyAuthSize {
		t.Fatalf("authorization file: %v %v", err, fi)
	}
	s, err := NewTPMSigner(open)
	if err != nil {
		t.Fatal(err)
	}
	if !s.InTPM() {
		t.Fatal("not a TPM signer")
	}
	env, err := s.SignStatement(context.Background(), []byte(`{"_type":"https://in-toto.io/Statement/v1"}`))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := NewEnvelopeVerifier(s.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	var e dsse.Envelope
	if err := json.Unmarshal(env, &e); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Verify(context.Background(), &e); err != nil {
		t.Fatalf("TPM-made DSSE signature does not verify: %v", err)
	}

	// The AK certifies the key; the certification names this key.
	nonce := []byte("0123456789abcdef0123456789abcdef")
	sk, err := certifyTPMKey(open, nonce)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := open()
	if err != nil {
		t.Fatal(err)
	}
	ak, err := sess.AttestationKey()
	sess.Close()
	if err != nil {
		t.Fatal(err)
	}
	akPub, err := tpm.ParseAKPublic(ak.TPMTPublic)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := tpm.VerifyCertify(sk.CertifyInfo, sk.CertifySignature, akPub, sk.TPMTPublic, nonce)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(s.PublicKey()) {
		t.Fatal("certified key is not the signer's")
	}

	// A second OpenTPM reuses the key and its authorization.
	open2, release2, err := OpenTPM(TPMConfig{Ref: sw.Ref(), SigningKey: &TPMKey{AuthFile: authFile, Create: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer release2()
	s2, err := NewTPMSigner(open2)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Fingerprint() != s.Fingerprint() {
		t.Fatalf("second open: key %s, want %s", s2.Fingerprint(), s.Fingerprint())
	}
}

func TestTPMKeyAuthFileChecks(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	if _, err := newTPMKeyAuth(good); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadTPMKeyAuth(good); err != nil {
		t.Fatal(err)
	}
	if _, err := newTPMKeyAuth(good); err == nil {
		t.Fatal("replaced an existing authorization file")
	}
	open := filepath.Join(dir, "open")
	if err := os.WriteFile(open, make([]byte, TPMKeyAuthSize), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadTPMKeyAuth(open); !errors.Is(err, ErrAuthFileMode) {
		t.Errorf("mode 0644: %v, want ErrAuthFileMode", err)
	}
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadTPMKeyAuth(short); err == nil {
		t.Error("a 1-byte authorization was accepted")
	}
}

// otherUserEnv marks the re-executed test binary that plays the build
// running as another user.
const otherUserEnv = "ATTEST_BUILD_TEST_OTHER_USER"

// A build process running as another user can reach the TPM, but cannot
// read the authorization file, and the TPM refuses to sign without it.
func TestOtherUserCannotSign(t *testing.T) {
	if os.Getenv(otherUserEnv) != "" {
		otherUserHelper(t)
		return
	}
	if os.Getuid() != 0 {
		t.Skip("skipping: switching to another user needs root")
	}
	sw := swtpmtest.Start(t)
	authFile := filepath.Join(t.TempDir(), "key.auth")
	open, release, err := OpenTPM(TPMConfig{Ref: sw.Ref(), SigningKey: &TPMKey{AuthFile: authFile, Create: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if _, err := NewTPMSigner(open); err != nil {
		t.Fatal(err)
	}
	// Let the other user reach the TPM socket and the auth file's folder
	// (as a build on a runner reaches /dev/tpmrm0); the file stays 0600.
	for _, p := range []string{sw.Dir, filepath.Dir(authFile)} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(sw.Socket, 0o666); err != nil {
		t.Fatal(err)
	}
	// The test binary, where the other user can run it.
	binDir, err := os.MkdirTemp("", "otheruser")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(binDir)
	os.Chmod(binDir, 0o755)
	bin := filepath.Join(binDir, "provenance.test")
	self, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, self); err != nil {
		t.Fatal(err)
	}
	self.Close()
	dst.Close()
	cmd := exec.Command(bin, "-test.run=^TestOtherUserCannotSign$", "-test.v")
	cmd.Env = []string{otherUserEnv + "=1", "AUTH=" + authFile, "TPM=" + sw.Ref(), "HOME=/"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("as uid 65534: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "refused: cannot read the authorization") || !strings.Contains(string(out), "refused: the TPM does not sign") {
		t.Fatalf("the other user's run did not show both refusals:\n%s", out)
	}
}

func otherUserHelper(t *testing.T) {
	if os.Getuid() == 0 {
		t.Fatal("the helper runs as root")
	}
	auth := os.Getenv("AUTH")
	if _, err := ReadTPMKeyAuth(auth); err == nil || !errors.Is(err, os.ErrPermission) {
		t.Fatalf("reading %s as uid %d: %v, want permission denied", auth, os.Getuid(), err)
	}
	t.Log("refused: cannot read the authorization file")
	tp, err := tpm.Open(os.Getenv("TPM"))
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	k, err := tp.SigningKey(tpm.DefaultSigningKeyHandle)
	if err != nil {
		t.Fatal(err)
	}
	digest := make([]byte, 32)
	for _, guess := range [][]byte{nil, make([]byte, 32)} {
		if _, err := tp.Sign(k, guess, digest); err == nil {
			t.Fatalf("the TPM signed with authorization %x", guess)
		}
	}
	t.Log("refused: the TPM does not sign without the authorization value")
}
