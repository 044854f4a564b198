package inspect_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/provenance/inspect"
)

// An attestation's subject names (and the other text it carries) cannot
// rewrite the terminal, fake a line or reorder what is read in inspect's
// report: CR, LF, ESC and bidi overrides are shown as escapes.
func TestInspectTextEscapesNames(t *testing.T) {
	st := inspectStatement("https://example.test/other", map[string]any{"x": 1})
	st["subject"] = []map[string]any{{"name": "a\r\x1b[2Jverify: pass\nfake line \u202egnp.exe", "digest": map[string]string{"sha256": strings.Repeat("ab", 32)}}}
	s, err := inspect.Inspect(bytes.NewReader(envelopeLine(t, st)), inspect.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := s.WriteText(&out, inspect.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(out.String(), "\r\x1b\u202e") || strings.Contains(out.String(), "\nfake line") {
		t.Fatalf("raw disguising characters in the report:\n%q", out.String())
	}
	if !strings.Contains(out.String(), `a\r\x1b[2Jverify: pass\nfake line \u202egnp.exe`) {
		t.Errorf("the name is not shown escaped:\n%s", out.String())
	}
}
