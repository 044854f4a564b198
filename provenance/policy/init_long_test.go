package policy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/tpm"
)

// TestFromReferenceLongAllowlist: an allowlist longer than MaxInlineAllow
// goes to the runtime policy the Reference names, which the YAML imports;
// the pair loads and accepts every path with its digest (each written as
// logged: a path with a space, which no kernel logs, stays apart from the
// '_' one) and refuses another digest.
func TestFromReferenceLongAllowlist(t *testing.T) {
	digest := func(i int) string { return fmt.Sprintf("sha256:%064x", i) }
	entries := NewReferenceIMA()
	var want []Measurement
	for i := range MaxInlineAllow + 50 {
		m := Measurement{Index: i, Template: "ima-ng", Path: fmt.Sprintf("/usr/lib/lib%d.so", i), Digest: digest(i)}
		switch i {
		case 7:
			m.Path = "/opt/my tool"
		case 8:
			m.Path = "/opt/my_tool"
		}
		entries.Add(m)
		want = append(want, m)
	}
	dir := t.TempDir()
	out := &RuntimePolicyOutput{Name: "p.runtime-policy.json", Write: func(write func(io.Writer) error) error {
		f, err := os.Create(filepath.Join(dir, "p.runtime-policy.json"))
		if err != nil {
			return err
		}
		defer f.Close()
		return write(f)
	}}
	doc, err := FromReference(testReference(t, entries, out))
	if err != nil {
		t.Fatal(err)
	}
	if out.Paths != MaxInlineAllow+50 || !strings.Contains(string(doc), `keylimeRuntimePolicy: ["p.runtime-policy.json"]`) || strings.Contains(string(doc), "/usr/lib/lib1.so") {
		t.Fatalf("%d paths written; the policy:\n%s", out.Paths, doc)
	}
	if err := os.WriteFile(filepath.Join(dir, "p.yaml"), doc, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := LoadPolicy(filepath.Join(dir, "p.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range want {
		if rule, f := firstIMARule(p, m); rule != "" {
			t.Fatalf("%s refused: %v", m.Path, f)
		}
	}
	if rule, _ := firstIMARule(p, Measurement{Path: "/opt/my tool", Digest: digest(8)}); rule != "allowlist" {
		t.Errorf("/opt/my tool with /opt/my_tool's digest: rule %q, want allowlist (paths are looked up as logged)", rule)
	}
	if rule, _ := firstIMARule(p, Measurement{Path: "/usr/lib/lib3.so", Digest: digest(4)}); rule != "allowlist" {
		t.Errorf("another path's digest: rule %q, want allowlist", rule)
	}
}

// TestFromReferenceEscapesPatterns: a measured path holding pattern
// characters (coreutils' /usr/bin/[, a file named with * or {}) is written
// escaped, so that the policy loads and allows exactly that path, not the
// paths the characters would match as a pattern.
func TestFromReferenceEscapesPatterns(t *testing.T) {
	entries := NewReferenceIMA()
	paths := []string{"/usr/bin/[", "/opt/a*b", "/opt/{x,y}", `/opt/back\slash`, "/opt/q?", "/opt/]"}
	for i, p := range paths {
		entries.Add(Measurement{Index: i, Template: "ima-ng", Path: p, Digest: fmt.Sprintf("sha256:%064x", i)})
	}
	doc, err := FromReference(testReference(t, entries, nil))
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePolicy(doc, "p.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	if len(p.ima.patterns) != 0 || p.ima.allow.Len() != len(paths) {
		t.Fatalf("%d patterns, %d exact paths; want 0 and %d:\n%s", len(p.ima.patterns), p.ima.allow.Len(), len(paths), doc)
	}
	for i, path := range paths {
		if rule, f := firstIMARule(p, Measurement{Path: path, Digest: fmt.Sprintf("sha256:%064x", i)}); rule != "" {
			t.Errorf("%s refused: %v", path, f)
		}
	}
	for _, other := range []string{"/opt/aXb", "/opt/x", "/opt/qz"} {
		if rule, _ := firstIMARule(p, Measurement{Path: other, Digest: fmt.Sprintf("sha256:%064x", 1)}); rule != "allowlist" {
			t.Errorf("%s: rule %q, want allowlist", other, rule)
		}
	}
}

// testReference is a reference attestation's facts with a fresh AK, the
// IMA entries seen and where a long allowlist goes (nil: inline).
func testReference(t *testing.T, entries *ReferenceIMA, out *RuntimePolicyOutput) *Reference {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	fp, err := tpm.Fingerprint(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return &Reference{
		Source: "test", Now: time.Now(), Scope: ScopeBoot,
		AK:        TrustedKey{Name: "b", PublicKey: key.Public(), Fingerprint: fp},
		BuilderID: "https://example.com/builder", TPMMode: predicates.ModeDevice,
		IMA:     predicates.IMA{Present: true, Bank: "sha256"},
		Entries: entries, RuntimePolicy: out,
	}
}
