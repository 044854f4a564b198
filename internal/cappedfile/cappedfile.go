// Package cappedfile reads whole files of untrusted size within a limit,
// refusing a larger one before holding more than the limit in memory.
package cappedfile

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// Read returns the content of the file at path, or an error naming the
// file and the limit when it holds more than limit bytes: at most limit+1
// bytes are read.
func Read(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return buf.Bytes(), nil
}
