package runtimepolicy

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
)

// Version is the runtime policy format version (meta.version) written
// and read.
const Version = 1

// Writer writes a runtime policy as a stream: Add writes a path's digests
// at once, so memory does not grow with the policy. The layout is
// Keylime's (keylime/ima/ima.py EMPTY_RUNTIME_POLICY), one path per line.
type Writer struct {
	w     *bufio.Writer
	paths int
	err   error
}

// NewWriter starts a runtime policy on w.
func NewWriter(w io.Writer) *Writer {
	pw := &Writer{w: bufio.NewWriterSize(w, 64<<10)}
	fmt.Fprintf(pw.w, "{\n  \"meta\": {\"version\": %d, \"generator\": 0},\n  \"release\": 0,\n  \"digests\": {", Version)
	return pw
}

// Add writes a path and its accepted digests (raw bytes, written as hex as
// Keylime compares them). Paths must be unique: a JSON object cannot hold
// a path twice.
func (pw *Writer) Add(path string, digests ...[]byte) error {
	if pw.err != nil {
		return pw.err
	}
	if path == "" || len(digests) == 0 {
		return fmt.Errorf("runtime policy: %q with %d digests", path, len(digests))
	}
	if pw.paths > 0 {
		pw.w.WriteByte(',')
	}
	pw.paths++
	pw.w.WriteString("\n    ")
	pw.writeString(path)
	pw.w.WriteString(": [")
	var hx [128]byte
	for i, d := range digests {
		if i > 0 {
			pw.w.WriteString(", ")
		}
		pw.w.WriteByte('"')
		pw.w.Write(hex.AppendEncode(hx[:0], d))
		pw.w.WriteByte('"')
	}
	_, pw.err = pw.w.WriteString("]")
	return pw.err
}

// writeString writes s as a JSON string.
func (pw *Writer) writeString(s string) {
	b, err := json.Marshal(s) // escapes quotes, controls and invalid UTF-8
	if err != nil && pw.err == nil {
		pw.err = err
	}
	pw.w.Write(b)
}

// Paths returns the number of paths written.
func (pw *Writer) Paths() int { return pw.paths }

// Close ends the digests, writes the exclude regexes (which must compile as
// RE2 regexes; Keylime matches them at the start of a path) and the rest
// of Keylime's members, empty, and flushes.
func (pw *Writer) Close(excludes []string) error {
	if pw.err != nil {
		return pw.err
	}
	for i, e := range excludes {
		if _, err := regexp.Compile(e); err != nil {
			return fmt.Errorf("runtime policy: excludes[%d] %q: %w", i, e, err)
		}
	}
	if pw.paths > 0 {
		pw.w.WriteString("\n  ")
	}
	pw.w.WriteString("},\n  \"excludes\": [")
	for i, e := range excludes {
		if i > 0 {
			pw.w.WriteString(", ")
		}
		pw.writeString(e)
	}
	pw.w.WriteString("],\n  \"keyrings\": {},\n  \"ima\": {\"ignored_keyrings\": [], \"log_hash_alg\": \"sha1\", \"dm_policy\": null},\n  \"ima-buf\": {},\n  \"verification-keys\": \"\"\n}\n")
	if pw.err != nil {
		return pw.err
	}
	if err := pw.w.Flush(); err != nil {
		return fmt.Errorf("writing runtime policy: %w", err)
	}
	pw.err = errors.New("runtime policy: closed")
	return nil
}
