package policy

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/attest-build/attest-build/evidence"
)

// kernelIMANGRecord returns one binary_runtime_measurements record of
// template ima-ng as the kernel writes it for a file at path with content:
// ima_write_template_field_data replaces every space of the name with '_'
// in the template data itself, so the binary log (and the template hash)
// holds '_', as the ascii log shows it.
func kernelIMANGRecord(path string, content []byte) []byte {
	le := binary.LittleEndian
	field := func(b []byte) []byte { return append(le.AppendUint32(nil, uint32(len(b))), b...) }
	d := sha256.Sum256(content)
	name := bytes.ReplaceAll([]byte(path), []byte(" "), []byte("_")) // the kernel's rule
	data := append(field(append([]byte("sha256:\x00"), d[:]...)), field(append(name, 0))...)
	th := sha1.Sum(data)
	rec := le.AppendUint32(nil, 10)
	rec = append(rec, th[:]...)
	rec = append(rec, field([]byte("ima-ng"))...)
	return append(rec, field(data)...)
}

// TestKeylimePathWithSpace: a file whose path has a space is logged with
// '_' (binary and ascii logs alike); a Keylime runtime policy as
// keylime-policy writes it ('_') allows it, looked up as logged, as
// Keylime's verifier does; an entry written with the space matches
// nothing, as in Keylime, and a logged path with a space (which no kernel
// writes) is not turned into the '_' entry.
func TestKeylimePathWithSpace(t *testing.T) {
	content := []byte("#!/bin/sh\necho run\n")
	sum := sha256.Sum256(content)
	hexSum := hex.EncodeToString(sum[:])
	r, err := evidence.NewReader(bytes.NewReader(kernelIMANGRecord("/opt/my tool/run", content)))
	if err != nil {
		t.Fatal(err)
	}
	e, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if e.Path != "/opt/my_tool/run" {
		t.Fatalf("logged path %q, want /opt/my_tool/run", e.Path)
	}
	var tc TemplateCache
	logged := tc.Measurement(e)
	spaced := Measurement{Index: 1, Template: "ima-ng", Path: "/opt/my tool/run", Digest: "sha256:" + hexSum}

	dir := t.TempDir()
	// keylime-policy create runtime's layout (RuntimePolicyType).
	kl := func(path string) string {
		return `{"meta": {"version": 1, "generator": 0}, "release": 0, "digests": {"` + path + `": ["` + hexSum + `"]}, "excludes": [], "keyrings": {}, "ima": {"ignored_keyrings": [], "log_hash_alg": "sha1", "dm_policy": null}, "ima-buf": {}, "verification-keys": ""}`
	}
	for _, tc := range []struct {
		name, key string
		m         Measurement
		allowed   bool
	}{
		{"logged path, Keylime's '_' entry", "/opt/my_tool/run", logged, true},
		{"logged path, an entry with the space", "/opt/my tool/run", logged, false},
		{"a path with a space (no kernel logs one), the '_' entry", "/opt/my_tool/run", spaced, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "rp.json"), []byte(kl(tc.key)), 0o644); err != nil {
				t.Fatal(err)
			}
			pf := filepath.Join(dir, "p.yaml")
			if err := os.WriteFile(pf, []byte(emptyTestPolicyHead+"ima:\n  keylimeRuntimePolicy: [rp.json]\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			p, err := LoadPolicy(pf)
			if err != nil {
				t.Fatal(err)
			}
			ev := p.IMA().NewEvaluation(nil)
			ev.Add(tc.m)
			tl := ev.Tally()
			if allowed := tl.FindingsTotal == 0; allowed != tc.allowed {
				t.Fatalf("%q against the entry %q: findings %+v, want allowed %t", tc.m.Path, tc.key, tl.Findings, tc.allowed)
			}
			if !tc.allowed && tl.Findings[0].Rule != "allowlist" {
				t.Fatalf("finding %+v, want rule allowlist", tl.Findings[0])
			}
		})
	}
}
