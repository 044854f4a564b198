package provenance

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// ErrUnusablePath marks a path that cannot be used: an output that cannot
// be written (Attest checks it before the start quote, so the build never
// runs for nothing), an IMA log named by the user that cannot be read
// (CheckIMALogReadable).
var ErrUnusablePath = errors.New("unusable path")

// CheckIMALogReadable opens an IMA log the user named and reads a byte of it. Only
// the default log may be absent (a kernel without IMA): a named one that is
// missing or unreadable is a mistake, to be reported before the build runs.
func CheckIMALogReadable(path string) error {
	f, err := os.Open(path)
	if err == nil {
		_, err = f.Read(make([]byte, 1))
		if err == io.EOF {
			err = nil // an empty log is read, and refused, after the build
		}
		f.Close()
	}
	if err != nil {
		return unusable(fmt.Errorf("--ima-log %s cannot be read: %w (checked before the build; omit --ima-log for the default %s)",
			path, pathCause(err), DefaultIMALog))
	}
	return nil
}

// checkOutputWritable makes sure the attestation can be written at path:
// not a directory, and its folder takes a new file (the write is atomic: a
// temporary file there, renamed over path). A folder that does not exist yet
// may be made by the build (dist/): then its nearest existing ancestor must
// be a folder that takes a new file.
func checkOutputWritable(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return unusable(fmt.Errorf("output %s is a directory (checked before the build)", path))
	}
	dir := filepath.Dir(path)
	for {
		fi, err := os.Stat(dir)
		if err == nil && !fi.IsDir() {
			return unusable(fmt.Errorf("output %s cannot be written: %s is not a folder (checked before the build)", path, dir))
		}
		if err == nil {
			break
		}
		if !(errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) || filepath.Dir(dir) == dir {
			return unusable(fmt.Errorf("output %s cannot be written: folder %s: %w (checked before the build)", path, dir, pathCause(err)))
		}
		dir = filepath.Dir(dir)
	}
	f, err := os.CreateTemp(dir, ".attest-build-probe-*")
	if err != nil {
		return unusable(fmt.Errorf("output %s cannot be written: folder %s: %w (checked before the build)", path, dir, pathCause(err)))
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return nil
}

// pathCause is the cause of a file error without the path it names (the
// caller names the path the user gave, not a temporary one).
func pathCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// unusablePathError is an error that matches ErrUnusablePath without
// saying so in its text.
type unusablePathError struct{ err error }

func unusable(err error) error                   { return unusablePathError{err} }
func (e unusablePathError) Error() string        { return e.err.Error() }
func (e unusablePathError) Unwrap() error        { return e.err }
func (e unusablePathError) Is(target error) bool { return target == ErrUnusablePath }
