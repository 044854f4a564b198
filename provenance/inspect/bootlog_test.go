package inspect_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/provenance/inspect"
)

// TestInspectBootLog: the real Secure Boot attestation's boot log is
// described as the predicate carries it, in the summary and the text.
func TestInspectBootLog(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "testdata", "secureboot", "app.bin.intoto.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := inspect.Inspect(f, inspect.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got *inspect.BootLogSummary
	for _, e := range s.Envelopes {
		if e.TPMIMA != nil {
			got = e.TPMIMA.BootLog
		}
	}
	if got == nil || !got.Present || got.Events != 45 || got.SHA256 != "4372c7b1b3bf37fd843d80c0bad4f14dbbf6528545942b77e839ca41608cae90" || got.CompressedBytes == 0 {
		t.Fatalf("boot log summary %+v: want present, 45 events, the log's SHA-256", got)
	}
	var text bytes.Buffer
	if err := s.WriteText(&text, inspect.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "boot log:    firmware event log of 45 events (sha256 4372c7b1b3bf37fd") {
		t.Errorf("text lacks the boot log line:\n%s", text.String())
	}
}
