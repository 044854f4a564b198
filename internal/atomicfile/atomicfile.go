// Package atomicfile writes files so that readers see the old content or the
// whole new content, never a part, with their final mode from the first
// byte (private keys are never readable by others, not even for a moment).
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Write writes data to path through a temporary file in the same
// directory, synced and then renamed over path, so that readers see either
// the old file or the whole new one, never a part. perm is applied to the
// temporary file before any data is written (a private key is never readable
// by others, not even for a moment).
func Write(path string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// WriteNew writes data to path, which must not exist: an error wrapping
// fs.ErrExist otherwise, even when another process creates path meanwhile
// (nothing is ever replaced). Like Write it writes a temporary file
// with perm from the start, then hard-links it to path (link(2) fails rather
// than replace) and removes the temporary name. Where the file system has no
// hard links it creates path with O_EXCL instead, not atomically.
func WriteNew(path string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	err = os.Link(tmp, path)
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
		err = writeExclusive(path, data, perm)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
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

// writeTemp writes data to a new temporary file beside path with mode perm
// (set before any data is written), synced and closed, and returns its name.
func writeTemp(path string, data []byte, perm os.FileMode) (tmp string, err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	tmp = f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err = f.Write(data); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return tmp, nil
}
