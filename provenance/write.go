package provenance

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// WriteFileAtomic writes data to path through a temporary file in the same
// directory, synced and then renamed over path, so that readers see either
// the old file or the whole new one, never a part. perm is applied to the
// temporary file before any data is written (a private key is never readable
// by others, not even for a moment).
func WriteFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// WriteJSONL writes envelopes (each a JSON document without newlines), one
// per line, atomically to path with mode 0644.
func WriteJSONL(path string, envelopes [][]byte) error {
	var buf bytes.Buffer
	for i, e := range envelopes {
		if bytes.IndexByte(e, '\n') >= 0 {
			return fmt.Errorf("writing %s: envelope %d holds a newline", path, i)
		}
		buf.Write(e)
		buf.WriteByte('\n')
	}
	return WriteFileAtomic(path, buf.Bytes(), 0o644)
}
