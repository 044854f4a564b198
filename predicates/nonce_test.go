package predicates_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/internal/realtest"
	"github.com/attest-build/attest-build/predicates"
)

func TestSubjectsNonceSingle(t *testing.T) {
	d := sha256.Sum256([]byte("artifact"))
	n, c, err := predicates.SubjectsNonce([]predicates.Subject{{Name: "a.tar", SHA256: d}})
	if err != nil {
		t.Fatal(err)
	}
	if c != predicates.NonceSingleSubject || !bytes.Equal(n, d[:]) {
		t.Fatalf("got %x (%s), want the subject's digest %x (%s)", n, c, d, predicates.NonceSingleSubject)
	}
}

// The documented shell recipe computes the same nonce:
// sha256sum A B | LC_ALL=C sort -k2 | sha256sum.
func TestSubjectsNonceListMatchesShell(t *testing.T) {
	for _, prog := range []string{"sh", "sha256sum", "sort", "cut"} {
		realtest.LookPath(t, prog, "coreutils")
	}
	dir := t.TempDir()
	names := []string{"zeta.bin", "alpha with space.tar", "Beta.txt", "dir/nested.o"}
	var subjects []predicates.Subject
	for i, n := range names {
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		content := []byte(strings.Repeat(n, i+1))
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
		subjects = append(subjects, predicates.Subject{Name: n, SHA256: sha256.Sum256(content)})
	}
	got, c, err := predicates.SubjectsNonce(subjects)
	if err != nil {
		t.Fatal(err)
	}
	if c != predicates.NonceSubjectList {
		t.Fatalf("construction %s, want %s", c, predicates.NonceSubjectList)
	}
	cmd := exec.Command("sh", "-c", `sha256sum "$@" | LC_ALL=C sort -k2 | sha256sum | cut -d' ' -f1`, "sh")
	cmd.Args = append(cmd.Args, names...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimSpace(string(out)); hex.EncodeToString(got) != want {
		t.Fatalf("nonce %x, shell recipe %s", got, want)
	}
}

func TestSubjectsNonceRefuses(t *testing.T) {
	d := sha256.Sum256(nil)
	for name, subjects := range map[string][]predicates.Subject{
		"none":      nil,
		"duplicate": {{Name: "a", SHA256: d}, {Name: "a", SHA256: d}},
		"newline":   {{Name: "a\nb", SHA256: d}, {Name: "c", SHA256: d}},
		"backslash": {{Name: `a\b`, SHA256: d}, {Name: "c", SHA256: d}},
		"empty":     {{Name: "", SHA256: d}, {Name: "c", SHA256: d}},
	} {
		if _, _, err := predicates.SubjectsNonce(subjects); !errors.Is(err, predicates.ErrSubjects) {
			t.Errorf("%s: err = %v, want ErrSubjects", name, err)
		}
	}
}
