package rootfs

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// tree is an image: image path -> content ("" for a directory).
var tree = map[string]string{
	"/usr/bin/ls":           "ls binary",
	"/usr/bin/my tool":      "spaces become underscores",
	"/usr/lib/libc.so.6":    strings.Repeat("libc ", 300000), // larger than inlineSize
	"/etc/passwd":           "root:x:0:0",
	"/etc/skip-me.conf":     "excluded by pattern",
	"/var/log/syslog":       "skipped by default",
	"/tmp/x":                "skipped by default",
	"/opt/app/run":          "app",
	"/opt/app/empty":        "",
	"/home/u/.bashrc":       "user file",
	"/usr/share/doc/README": "doc",
}

func sum(s string) string { d := sha256.Sum256([]byte(s)); return fmt.Sprintf("%x", d) }

// want is what hashing the tree must give: skip /var and /tmp, exclude
// /etc/skip-*, everything root-owned.
func want() []string {
	var out []string
	for p, c := range tree {
		if strings.HasPrefix(p, "/var/") || strings.HasPrefix(p, "/tmp/") || strings.HasPrefix(p, "/etc/skip-") {
			continue
		}
		out = append(out, strings.ReplaceAll(p, " ", "_")+" "+sum(c))
	}
	return sorted(out)
}

func sorted(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

func writeTree(t *testing.T) string {
	dir := t.TempDir()
	for p, c := range tree {
		host := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(host, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("ls", filepath.Join(dir, "usr/bin/dir")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "opt/app/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

var exclude = regexp.MustCompile(`^(?:/etc/skip-.*)`)

// collect returns the files emitted, sorted, checking that they came in
// lexical order when inOrder is set.
func collect(t *testing.T, inOrder bool, f func(emit func(File) error) (Stats, error)) ([]string, Stats) {
	t.Helper()
	var out, order []string
	st, err := f(func(fl File) error {
		out = append(out, fmt.Sprintf("%s %x", fl.Path, fl.Digest))
		order = append(order, fl.Path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if inOrder && !isSorted(order) {
		t.Errorf("files not emitted in walk order: %v", order)
	}
	return sorted(out), st
}

func isSorted(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i] < s[i-1] {
			return false
		}
	}
	return true
}

// TestHashDir: every regular file outside the skipped subtrees and the
// exclude pattern, with its SHA-256, in walk order, from any number of
// workers; symbolic links and FIFOs left out and counted.
func TestHashDir(t *testing.T) {
	dir := writeTree(t)
	for _, workers := range []int{1, 4} {
		got, st := collect(t, true, func(emit func(File) error) (Stats, error) {
			return HashDir(context.Background(), dir, Options{Exclude: exclude, AllOwners: true, Workers: workers}, emit)
		})
		if strings.Join(got, "\n") != strings.Join(want(), "\n") {
			t.Errorf("workers %d: got\n%s\nwant\n%s", workers, strings.Join(got, "\n"), strings.Join(want(), "\n"))
		}
		if st.Files != len(want()) || st.Symlinks != 1 || st.Special != 1 || st.Excluded != 1 || st.SkipDirs != 2 {
			t.Errorf("workers %d: stats %+v", workers, st)
		}
	}
}

// TestHashDirOwners: without AllOwners only root's files are hashed.
func TestHashDirOwners(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to another owner")
	}
	dir := writeTree(t)
	if err := os.Chown(filepath.Join(dir, "home/u/.bashrc"), 1000, 1000); err != nil {
		t.Fatal(err)
	}
	got, st := collect(t, true, func(emit func(File) error) (Stats, error) {
		return HashDir(context.Background(), dir, Options{Exclude: exclude}, emit)
	})
	if st.NotRoot != 1 || len(got) != len(want())-1 || strings.Contains(strings.Join(got, "\n"), ".bashrc") {
		t.Errorf("user's file hashed: %v %+v", got, st)
	}
}

// TestHashDirOtherFS: a mount point of another file system type inside the
// image (tmpfs, devpts, mqueue under /dev) is not walked.
func TestHashDirOtherFS(t *testing.T) {
	root, err := fsInfo("/dev")
	if err != nil {
		t.Skip(err)
	}
	other := false
	for _, m := range []string{"/dev/shm", "/dev/pts", "/dev/mqueue"} {
		if id, err := fsInfo(m); err == nil && id.dev != root.dev && id.kind != root.kind {
			other = true
		}
	}
	if !other {
		t.Skip("no mount of another file system type under /dev here")
	}
	st, err := HashDir(context.Background(), "/dev", Options{Skip: []string{}, AllOwners: true}, func(File) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if st.OtherFS == 0 {
		t.Errorf("walking /dev skipped no mount point of another type: %+v", st)
	}
}

func tarOf(t *testing.T, dupe bool) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	names := make([]string, 0, len(tree))
	for p := range tree {
		names = append(names, p)
	}
	for _, p := range sorted(names) {
		c := tree[p]
		if err := tw.WriteHeader(&tar.Header{Name: "." + p, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(c))}); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, c)
	}
	tw.WriteHeader(&tar.Header{Name: "usr/bin/zz-link", Typeflag: tar.TypeLink, Linkname: "./usr/bin/ls"})
	tw.WriteHeader(&tar.Header{Name: "usr/bin/zz-sym", Typeflag: tar.TypeSymlink, Linkname: "ls"})
	tw.WriteHeader(&tar.Header{Name: "usr/bin/zz-user", Typeflag: tar.TypeReg, Uid: 1000, Size: 1})
	tw.Write([]byte("u"))
	if dupe {
		tw.WriteHeader(&tar.Header{Name: "/usr/bin/ls", Typeflag: tar.TypeReg, Size: 1})
		tw.Write([]byte("x"))
	}
	tw.Close()
	return b.Bytes()
}

// TestHashTar: a tar of the tree, plain, gzip and zstd, hashes as the
// directory does; a hard link gets its target's digest; a member not
// owned by root is left out; a path twice is refused.
func TestHashTar(t *testing.T) {
	plain := tarOf(t, false)
	var gz, zs bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(plain)
	gw.Close()
	zw, _ := zstd.NewWriter(&zs)
	zw.Write(plain)
	zw.Close()
	w := append(want(), "/usr/bin/zz-link "+sum(tree["/usr/bin/ls"]))
	for name, in := range map[string][]byte{"plain": plain, "gzip": gz.Bytes(), "zstd": zs.Bytes()} {
		got, st := collect(t, false, func(emit func(File) error) (Stats, error) {
			return HashTar(context.Background(), bytes.NewReader(in), Options{Exclude: exclude, Workers: 3}, emit)
		})
		if strings.Join(got, "\n") != strings.Join(sorted(w), "\n") {
			t.Errorf("%s: got\n%s\nwant\n%s", name, strings.Join(got, "\n"), strings.Join(w, "\n"))
		}
		if st.HardLinks != 1 || st.Symlinks != 1 || st.NotRoot != 1 || st.Excluded != 1 {
			t.Errorf("%s: stats %+v", name, st)
		}
	}
	_, err := HashTar(context.Background(), bytes.NewReader(tarOf(t, true)), Options{}, func(File) error { return nil })
	if !errors.Is(err, ErrImage) || !strings.Contains(err.Error(), "/usr/bin/ls appears twice") {
		t.Errorf("a path twice: %v", err)
	}
}

// TestEmitError: an error of emit stops the walk and is returned.
func TestEmitError(t *testing.T) {
	dir := writeTree(t)
	stop := errors.New("stop")
	n := 0
	_, err := HashDir(context.Background(), dir, Options{AllOwners: true, Workers: 2}, func(File) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("emit's error: %v after %d files", err, n)
	}
	if _, err := HashDir(context.Background(), dir, Options{Hash: crypto.MD5}, nil); !errors.Is(err, ErrImage) {
		t.Errorf("MD5: %v", err)
	}
}
