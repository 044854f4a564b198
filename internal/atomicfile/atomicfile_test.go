package atomicfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tempFiles lists the temporary files left in dir (every name but want).
func tempFiles(t *testing.T, dir string, want ...string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range ents {
		if !strings.Contains(strings.Join(want, "\x00")+"\x00", e.Name()+"\x00") {
			left = append(left, e.Name())
		}
	}
	return left
}

// TestWriteModeFromTheStart: the temporary file has its final mode before
// any byte is written (a key is never readable by others), and the result
// has exactly perm whatever it replaced.
func TestWriteModeFromTheStart(t *testing.T) {
	for _, perm := range []os.FileMode{0o600, 0o644} {
		dir := t.TempDir()
		path := filepath.Join(dir, "key.pem")
		if err := os.WriteFile(path, []byte("old"), 0o666); err != nil {
			t.Fatal(err)
		}
		err := WriteStream(path, perm, func(w io.Writer) error {
			tmp := tempFiles(t, dir, "key.pem")
			if len(tmp) != 1 || !strings.HasPrefix(tmp[0], ".key.pem") {
				t.Fatalf("temporary files %q, want one .key.pem*", tmp)
			}
			fi, err := os.Stat(filepath.Join(dir, tmp[0]))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != perm {
				t.Errorf("temporary file mode %v before the first byte, want %v", fi.Mode().Perm(), perm)
			}
			if b, _ := os.ReadFile(path); string(b) != "old" {
				t.Errorf("path holds %q while the new content is written, want the old", b)
			}
			_, err = w.Write([]byte("new"))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(path); string(b) != "new" || fi.Mode().Perm() != perm {
			t.Errorf("%v: %q mode %v, want \"new\" mode %v", perm, b, fi.Mode().Perm(), perm)
		}
		if left := tempFiles(t, dir, "key.pem"); len(left) != 0 {
			t.Errorf("left behind: %q", left)
		}
	}
}

// TestWriteStreamFailure: a failing write leaves the old file and no
// temporary file, and its error comes back as it is.
func TestWriteStreamFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out")
	if err := Write(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := WriteStream(path, 0o644, func(w io.Writer) error {
		w.Write([]byte("partial"))
		return boom
	})
	if err != boom {
		t.Errorf("err %v, want boom as it is", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("path holds %q, want the old content", b)
	}
	if left := tempFiles(t, dir, "out"); len(left) != 0 {
		t.Errorf("left behind: %q", left)
	}
	// A folder that does not exist: named, not the temporary name.
	err = Write(filepath.Join(dir, "no", "x"), nil, 0o644)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "writing "+filepath.Join(dir, "no", "x")+": creating a file in "+filepath.Join(dir, "no")) || strings.Contains(err.Error(), ".x") {
		t.Errorf("err %v", err)
	}
}

// TestWriteNew: never replaces; creates with perm; leaves no temporary file.
func TestWriteNew(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ca.key")
	if err := WriteNew(path, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteNew(path, []byte("two"), 0o600); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second WriteNew: %v, want fs.ErrExist", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "one" || fi.Mode().Perm() != 0o600 {
		t.Errorf("%q mode %v, want \"one\" 0600", b, fi.Mode().Perm())
	}
	// A dangling symbolic link is not followed either.
	if err := os.Symlink(filepath.Join(dir, "elsewhere"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := WriteNew(filepath.Join(dir, "link"), []byte("x"), 0o600); !errors.Is(err, fs.ErrExist) {
		t.Errorf("WriteNew over a link: %v, want fs.ErrExist", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "elsewhere")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the link was followed: %v", err)
	}
	if left := tempFiles(t, dir, "ca.key", "link"); len(left) != 0 {
		t.Errorf("left behind: %q", left)
	}
}

// TestDirWrite: a Dir writes in the directory it opened, whatever its path
// becomes, replaces a symbolic link at the name without following it, and
// takes only a file name.
func TestDirWrite(t *testing.T) {
	work, outside := t.TempDir(), t.TempDir()
	dist := filepath.Join(work, "dist")
	if err := os.Mkdir(dist, 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDir(dist)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := os.Symlink(filepath.Join(outside, "target"), filepath.Join(dist, "a.jsonl")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dist, dist+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, dist); err != nil {
		t.Fatal(err)
	}
	if err := d.Write("a.jsonl", []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("wrote outside the opened directory: %v", ents)
	}
	fi, err := os.Lstat(filepath.Join(dist+".old", "a.jsonl"))
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
		t.Fatalf("a.jsonl in the opened directory: %v %v, want a regular file 0644", fi, err)
	}
	for _, bad := range []string{"sub/a", "..", "."} {
		if err := d.Write(bad, nil, 0o644); err == nil || !strings.Contains(err.Error(), "is not a file name") {
			t.Errorf("Write(%q): %v", bad, err)
		}
	}
	if left := tempFiles(t, dist+".old", "a.jsonl"); len(left) != 0 {
		t.Errorf("left behind: %q", left)
	}
}
