package cappedfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRead: a file up to the limit is read whole; one byte more is
// refused with the file and the limit named; a missing file is the
// os.Open error.
func TestRead(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("0123456789a"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := Read(p, 11); err != nil || string(b) != "0123456789a" {
		t.Fatalf("11 bytes, limit 11: %q, %v", b, err)
	}
	if _, err := Read(p, 10); err == nil || !strings.Contains(err.Error(), p+" is larger than 10 bytes") {
		t.Fatalf("11 bytes, limit 10: %v", err)
	}
	if _, err := Read(p+".missing", 10); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}
