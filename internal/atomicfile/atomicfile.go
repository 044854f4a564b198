// Package atomicfile writes files so that readers see the old content or the
// whole new content, never a part, with their final mode from the first
// byte (private keys are never readable by others, not even for a moment).
//
// Every write goes through github.com/google/renameio/v2: a temporary file
// beside the destination (created with O_EXCL, mode perm before any byte is
// written), synced, renamed over the destination; then the directory is
// synced so that the rename survives a crash. A Dir does the same relative
// to a directory opened once (renameio over an os.Root): the path to it is
// never resolved again, so swapping one of its components for a symbolic
// link afterwards changes nothing.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/google/renameio/v2"
)

// Write writes data to path atomically with mode perm (see the package doc).
func Write(path string, data []byte, perm os.FileMode) error {
	return WriteStream(path, perm, writeAll(path, data))
}

// WriteStream is Write for content written as a stream: write fills the
// temporary file, which replaces path only when write succeeds (and is
// removed when it fails). write's error is returned as it is.
func WriteStream(path string, perm os.FileMode, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	err := replace(path, path, perm, write, renameio.WithTempDir(dir))
	if err == nil {
		syncDir(dir)
	}
	return err
}

// WriteNew writes data to path, which must not exist: an error wrapping
// fs.ErrExist otherwise, even when another process creates path meanwhile
// (nothing is ever replaced). Like Write it writes a temporary file with
// perm from the start, then hard-links it to path (link(2) fails rather
// than replace) and removes the temporary name. Where the file system has no
// hard links it creates path with O_EXCL instead, not atomically.
func WriteNew(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	t, err := renameio.NewPendingFile(path, renameio.WithTempDir(dir), renameio.WithStaticPermissions(perm))
	if err != nil {
		return fmt.Errorf("writing %s: creating a file in %s: %w", path, dir, cause(err))
	}
	defer t.Cleanup() // the temporary name goes in every case
	if err := writeAll(path, data)(t); err != nil {
		return err
	}
	if err := t.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	err = os.Link(t.Name(), path)
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
		err = writeExclusive(path, data, perm)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	syncDir(dir)
	return nil
}

func writeExclusive(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm&0o600)
	if err != nil {
		return err
	}
	if err = f.Chmod(perm); err == nil {
		if _, err = f.Write(data); err == nil {
			err = f.Sync()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// Dir is a directory opened once, to write files in by name.
type Dir struct {
	path string
	root *os.Root
	self *os.File // the directory itself, opened through root
}

// OpenDir opens the directory at path.
func OpenDir(path string) (*Dir, error) {
	root, err := os.OpenRoot(path)
	if err != nil {
		return nil, err
	}
	self, err := root.Open(".")
	if err != nil {
		root.Close()
		return nil, err
	}
	return &Dir{path: path, root: root, self: self}, nil
}

// Fd is the directory's file descriptor (to see where it leads, as
// /proc/self/fd/FD), valid until Close.
func (d *Dir) Fd() uintptr { return d.self.Fd() }

// Write writes data atomically with mode perm as the file name (one path
// element) in the directory: whatever name was (a symbolic link, a FIFO) is
// replaced, never followed.
func (d *Dir) Write(name string, data []byte, perm os.FileMode) error {
	full := filepath.Join(d.path, name)
	if name != filepath.Base(name) || name == "." || name == ".." {
		return fmt.Errorf("writing %s: %q is not a file name", full, name)
	}
	if err := replace(name, full, perm, writeAll(full, data), renameio.WithRoot(d.root)); err != nil {
		return err
	}
	_ = d.self.Sync()
	return nil
}

// Close closes the directory.
func (d *Dir) Close() error {
	err := d.self.Close()
	if rerr := d.root.Close(); err == nil {
		err = rerr
	}
	return err
}

// replace writes a temporary file with write and renames it over path;
// shown names the destination in errors.
func replace(path, shown string, perm os.FileMode, write func(io.Writer) error, where renameio.Option) error {
	t, err := renameio.NewPendingFile(path, where, renameio.WithStaticPermissions(perm))
	if err != nil {
		// name the file asked for and its folder, not the temporary name
		return fmt.Errorf("writing %s: creating a file in %s: %w", shown, filepath.Dir(shown), cause(err))
	}
	defer t.Cleanup() // a no-op once replaced
	if err := write(t); err != nil {
		return err
	}
	if err := t.CloseAtomicallyReplace(); err != nil {
		return fmt.Errorf("writing %s: %w", shown, cause(err))
	}
	return nil
}

func writeAll(path string, data []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		if _, err := w.Write(data); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		return nil
	}
}

// syncDir syncs a directory so that a rename in it is durable; file
// systems that cannot sync a directory are left as they are.
func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		_ = f.Sync()
		f.Close()
	}
}

// cause is err without the temporary file's path a *fs.PathError or
// *os.LinkError names.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
