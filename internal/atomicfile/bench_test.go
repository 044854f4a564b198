package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// oldWrite and oldDirWrite are the two implementations this package
// replaced (atomicfile.Write by hand, and provenance's openat write of the
// attestation), kept here only to benchmark against in one run.
func oldWrite(path string, data []byte, perm os.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = oldFill(f, data, perm); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

func oldDirWrite(dfd int, base string, data []byte, perm os.FileMode) (err error) {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := "." + base + ".tmp-" + hex.EncodeToString(rnd[:])
	fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm&0o600))
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), tmp)
	defer func() {
		if err != nil {
			f.Close()
			_ = unix.Unlinkat(dfd, tmp, 0)
		}
	}()
	if err = oldFill(f, data, perm); err != nil {
		return err
	}
	if err = unix.Renameat(dfd, tmp, dfd, base); err != nil {
		return err
	}
	_ = unix.Fsync(dfd)
	return nil
}

// oldFill is what both old implementations did to the temporary file.
func oldFill(f *os.File, data []byte, perm os.FileMode) error {
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// BenchmarkWrite writes a 64 KiB file atomically over and over, by path
// and in an opened directory, with the old code and with this package
// (renameio), in one run, and the directory fsync alone (which the old
// path write lacked). The directory is $ATTEST_BUILD_BENCH_DIR, else
// the test's temporary folder (fsync costs what its file system makes it).
func BenchmarkWrite(b *testing.B) {
	dir := b.TempDir()
	if d := os.Getenv("ATTEST_BUILD_BENCH_DIR"); d != "" {
		var err error
		if dir, err = os.MkdirTemp(d, "atomicfile-bench-"); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
	}
	data := make([]byte, 64<<10)
	path := filepath.Join(dir, "a.intoto.jsonl")
	d, err := OpenDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(dfd)
	for _, bc := range []struct {
		name  string
		write func() error
	}{
		{"path/old", func() error { return oldWrite(path, data, 0o644) }},
		{"path/renameio", func() error { return Write(path, data, 0o644) }},
		{"dir/old-openat", func() error { return oldDirWrite(dfd, "a.intoto.jsonl", data, 0o644) }},
		{"dir/renameio-root", func() error { return d.Write("a.intoto.jsonl", data, 0o644) }},
		// What Write adds to the old path write: the directory's fsync.
		{"dirsync-alone", func() error { syncDir(dir); return nil }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for range b.N {
				if err := bc.write(); err != nil {
					b.Fatal(fmt.Errorf("%s: %w", bc.name, err))
				}
			}
		})
	}
}
