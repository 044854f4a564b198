package provenance_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance"
)

// A subject that is a symbolic link (to a runner-only file, say) when it is
// hashed is refused, never followed; so are a FIFO (without blocking) and a
// path leading out of the directory. What is hashed is the descriptor
// opened and checked.
func TestHashSubjectsRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(t.TempDir(), "runner-only.key")
	if err := os.WriteFile(secret, []byte("SECRET"), 0o600); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "real.bin"), []byte("real"), 0o644))
	must(os.Symlink(secret, filepath.Join(dir, "abs-link.bin")))
	must(os.Symlink("real.bin", filepath.Join(dir, "rel-link.bin")))
	must(syscall.Mkfifo(filepath.Join(dir, "fifo.bin"), 0o644))
	must(os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "sub", "a.bin"), []byte("a"), 0o644))
	must(os.Symlink("sub", filepath.Join(dir, "linked-dir")))

	for _, ok := range []string{"real.bin", "sub/a.bin", "linked-dir/a.bin"} {
		if _, err := provenance.HashSubjects(dir, []string{ok}); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, name := range []string{"abs-link.bin", "rel-link.bin", "fifo.bin"} {
		_, err := provenance.HashSubjects(dir, []string{name})
		if !errors.Is(err, provenance.ErrNotRegular) {
			t.Errorf("%s: err %v, want ErrNotRegular", name, err)
		}
	}
	if _, err := provenance.HashSubjects(dir, []string{"../" + filepath.Base(dir) + "/real.bin"}); err == nil {
		t.Error(`a name through ".." was hashed`)
	}
	if _, err := provenance.HashSubjects(dir, []string{"a\rb"}); !errors.Is(err, predicates.ErrSubjects) {
		t.Errorf("a name with CR: err %v, want ErrSubjects", err)
	}
}

// The output's directory is opened once: turning it into a link to another
// directory afterwards does not move the attestation there. A relative
// output whose directory leads out of the working directory is refused.
func TestOutputDirectoryOpenedOnce(t *testing.T) {
	work, outside := t.TempDir(), t.TempDir()
	dist := filepath.Join(work, "dist")
	if err := os.Mkdir(dist, 0o755); err != nil {
		t.Fatal(err)
	}
	write, closeOut, err := provenance.OpenOutput(filepath.Join(dist, "a.intoto.jsonl"), work)
	if err != nil {
		t.Fatal(err)
	}
	defer closeOut()
	if err := os.Rename(dist, dist+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, dist); err != nil {
		t.Fatal(err)
	}
	if err := write([]byte("x\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(outside, "a.intoto.jsonl")); err == nil {
		t.Fatal("the attestation went through the swapped-in link")
	}
	if b, err := os.ReadFile(filepath.Join(dist+".old", "a.intoto.jsonl")); err != nil || string(b) != "x\n" {
		t.Fatalf("the attestation is not in the directory opened: %q %v", b, err)
	}
	// Now dist leads outside: refused when it must be inside.
	if _, _, err := provenance.OpenOutput(filepath.Join(dist, "b.intoto.jsonl"), work); !errors.Is(err, provenance.ErrOutsideWorkDir) {
		t.Fatalf("err %v, want ErrOutsideWorkDir", err)
	}
}
