package provenance

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/attest-build/attest-build/internal/atomicfile"
)

// WriteFileAtomic writes data to path through a temporary file in the same
// directory, synced and then renamed over path, so that readers see either
// the old file or the whole new one, never a part. perm is applied to the
// temporary file before any data is written (a private key is never readable
// by others, not even for a moment).
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return atomicfile.Write(path, data, perm)
}

// writeFileNew writes data to path, which must not exist (an error wrapping
// fs.ErrExist otherwise, even when another process creates path meanwhile):
// atomicfile.WriteNew.
func writeFileNew(path string, data []byte, perm os.FileMode) error {
	return atomicfile.WriteNew(path, data, perm)
}

// WriteJSONL writes envelopes (each a JSON document without newlines), one
// per line, atomically to path with mode 0644.
func WriteJSONL(path string, envelopes [][]byte) error {
	data, err := jsonlBytes(path, envelopes)
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, data, 0o644)
}

// jsonlBytes joins envelopes into JSON Lines; path names the file for errors.
func jsonlBytes(path string, envelopes [][]byte) ([]byte, error) {
	var buf bytes.Buffer
	for i, e := range envelopes {
		if bytes.IndexByte(e, '\n') >= 0 {
			return nil, fmt.Errorf("writing %s: envelope %d holds a newline", path, i)
		}
		buf.Write(e)
		buf.WriteByte('\n')
	}
	return buf.Bytes(), nil
}

// WriteStreamAtomic is WriteFileAtomic for content written as a stream:
// write fills a temporary file beside path, which is synced and renamed
// over path only when write succeeds (and removed when it fails):
// atomicfile.WriteStream.
func WriteStreamAtomic(path string, perm os.FileMode, write func(io.Writer) error) error {
	return atomicfile.WriteStream(path, perm, write)
}
