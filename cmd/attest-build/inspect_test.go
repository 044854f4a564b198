package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInspectCommand(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a.intoto.jsonl")
	if err := os.WriteFile(file, []byte(`{"payloadType":"text/plain","payload":"aGk=","signatures":[]}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.intoto.jsonl")
	if err := os.WriteFile(bad, []byte("not json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args  []string
		usage bool
		fails bool
		out   string
	}{
		{args: []string{"inspect", file}, out: "NOT VERIFIED: inspect verifies nothing"},
		{args: []string{"inspect", "--format", "json", file}, out: `"verified": false`},
		{args: []string{"inspect", "--format", "yaml", file}, usage: true, fails: true},
		{args: []string{"inspect"}, usage: true, fails: true},
		// Unreadable input is exit status 2, as for verify.
		{args: []string{"inspect", filepath.Join(dir, "missing.intoto.jsonl")}, usage: true, fails: true},
		{args: []string{"inspect", dir}, usage: true, fails: true},
		// Malformed content is exit status 1.
		{args: []string{"inspect", bad}, fails: true},
	} {
		cmd := New()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&bytes.Buffer{})
		cmd.SetArgs(tc.args)
		err := cmd.Execute()
		if (err != nil) != tc.fails || (err != nil && isUsage(err) != tc.usage) {
			t.Errorf("%v: err = %v, want failure %v, usage %v", tc.args, err, tc.fails, tc.usage)
		}
		if !strings.Contains(out.String(), tc.out) {
			t.Errorf("%v: output lacks %q:\n%s", tc.args, tc.out, out.String())
		}
	}
}
