package runtimepolicy

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// TestWriterKeylimeLayout: what Writer writes is a JSON document with every
// member of Keylime's empty runtime policy, the digests as hex lists by
// path (quotes, controls and newlines in paths escaped), and the excludes.
func TestWriterKeylimeLayout(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	if err := w.Add("/usr/bin/ls", []byte{1, 2}, []byte{0xab}); err != nil {
		t.Fatal(err)
	}
	if err := w.Add("/odd \"name\"\n\x01", []byte{3}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close([]string{"/var/log/.*", `/tmp/\d+`}); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	want := map[string]any{
		"meta":    map[string]any{"version": 1.0, "generator": 0.0},
		"release": 0.0,
		"digests": map[string]any{
			"/usr/bin/ls":         []any{"0102", "ab"},
			"/odd \"name\"\n\x01": []any{"03"},
		},
		"excludes":          []any{"/var/log/.*", `/tmp/\d+`},
		"keyrings":          map[string]any{},
		"ima":               map[string]any{"ignored_keyrings": []any{}, "log_hash_alg": "sha1", "dm_policy": nil},
		"ima-buf":           map[string]any{},
		"verification-keys": "",
	}
	if !reflect.DeepEqual(doc, want) {
		t.Errorf("got %#v\nwant %#v", doc, want)
	}
	if w.Paths() != 2 {
		t.Errorf("Paths %d", w.Paths())
	}

	var empty bytes.Buffer
	if err := NewWriter(&empty).Close(nil); err != nil || !json.Valid(empty.Bytes()) {
		t.Errorf("empty policy: %v\n%s", err, empty.String())
	}
	if err := NewWriter(&empty).Close([]string{"(?<=x)"}); err == nil {
		t.Error("an exclude that RE2 cannot compile was written")
	}
}
