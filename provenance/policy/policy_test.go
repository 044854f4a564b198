package policy

import (
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/provenance/internal/provtest"
	"github.com/attest-build/attest-build/runtimepolicy"
)

func TestParsePolicyDefaults(t *testing.T) {
	p, err := ParsePolicy([]byte(provtest.BasePolicy(t)), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.modes) != 1 || p.modes[0] != "device" {
		t.Errorf("modes = %v, want [device] by default", p.modes)
	}
	if !p.ima.required || p.ima.scope != ScopeBoot || p.ima.allowViolations {
		t.Errorf("ima defaults = required %v scope %v violations %v, want true boot false", p.ima.required, p.ima.scope, p.ima.allowViolations)
	}
	if p.ima.maxEntries != DefaultMaxIMAEntries {
		t.Errorf("maxEntries = %d", p.ima.maxEntries)
	}
	if !slices.Equal(p.ima.banks, []string{"sha256", "sha384", "sha512"}) {
		t.Errorf("ima banks = %v, want sha256, sha384, sha512 (no sha1) by default", p.ima.banks)
	}
	if len(p.signers) != 1 || p.signers[0].Name != "release" || !strings.HasPrefix(p.signers[0].Fingerprint, "sha256:") {
		t.Errorf("signers = %+v", p.signers)
	}
	if len(p.aks) != 1 || p.aks[0].Name != "runner-1" {
		t.Errorf("aks = %+v", p.aks)
	}
}

func TestParsePolicyFull(t *testing.T) {
	doc := provtest.BasePolicy(t) + `tpmModes: [device, swtpm]
maxAge: 30d
pcrs:
  sha256:
    0: "` + strings.Repeat("ab", 32) + `"
    7: "` + strings.Repeat("cd", 32) + `"
  sha1:
    0: "` + strings.Repeat("01", 20) + `"
ima:
  scope: boot
  allowViolations: true
  maxEntries: 5000
  allow:
    - path: /usr/bin/make
      digests: [sha256:` + strings.Repeat("11", 32) + `, ` + strings.Repeat("22", 32) + `]
    - path: /usr/lib/**/*.so*
      digests: [` + strings.Repeat("33", 32) + `]
  exclude: [/var/log/**]
  deny: [/tmp/**]
`
	p, err := ParsePolicy([]byte(doc), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p.maxAge.Hours() != 720 {
		t.Errorf("maxAge = %v", p.maxAge)
	}
	if len(p.pcrs) != 3 || p.pcrs[0].Bank != "sha1" || p.pcrs[1].Index != 0 || p.pcrs[2].Index != 7 {
		t.Errorf("pcrs = %+v", p.pcrs)
	}
	if p.ima.scope != ScopeBoot || !p.ima.allowViolations || p.ima.maxEntries != 5000 {
		t.Errorf("ima = %+v", p.ima)
	}
	for _, d := range []string{"11", "22"} {
		v, _ := hex.DecodeString(strings.Repeat(d, 32))
		if found, ok, n := p.ima.allow.Lookup("/usr/bin/make", "sha256", v); !found || !ok || n != 2 {
			t.Errorf("allow /usr/bin/make %s: found %v accepted %v of %d", d, found, ok, n)
		}
	}
	if len(p.ima.patterns) != 1 || !p.ima.patterns[0].glob.Match("/usr/lib/x86_64-linux-gnu/libc.so.6") {
		t.Errorf("pattern did not compile as expected: %+v", p.ima.patterns)
	}
}

// TestParsePolicyErrors: each bad policy names the line and field at fault.
func TestParsePolicyErrors(t *testing.T) {
	base := provtest.BasePolicy(t)
	baseLines := strings.Count(base, "\n")
	tests := []struct {
		name      string
		doc       string
		line      int
		field     string
		errSubstr string // the human part of the message, for the reader of a failure
	}{
		{"unknown top-level field", base + "signer: x\n", baseLines + 1, "", `unknown key "signer" (known here: version, signers, builders, attestationKeyCAs, builderIds, tpmModes, pcrs, ima, boot, maxAge, source); did you mean "signers"?`},
		{"unknown nested field", base + "ima:\n  scopes: boot\n", baseLines + 2, "", `unknown key "scopes" (known here: required, scope, maxEntries, maxLogBytes, allowViolations, templates, banks, allow, exclude, deny, keylimeRuntimePolicy); did you mean "scope"?`},
		{"unknown key, nothing close", base + "zzzzzzzz: 1\n", baseLines + 1, "", `unknown key "zzzzzzzz" (known here: version,`},
		{"wrong version", strings.Replace(base, "version: 1", "version: 2", 1), 1, "version", "want 1"},
		{"bad mode", base + "tpmModes: [device, vm]\n", baseLines + 1, "tpmModes[1]", `"vm"`},
		{"bad scope", base + "ima:\n  scope: build\n", baseLines + 2, "ima.scope", "window or boot"},
		{"bad pcr hex", base + "pcrs:\n  sha256:\n    7: abcd\n", baseLines + 3, "pcrs.sha256.7", "32 bytes"},
		{"bad bank", base + "pcrs:\n  md5:\n    7: abcd\n", baseLines + 2, "pcrs.md5", "unknown bank"},
		{"pcr index", base + "pcrs:\n  sha1:\n    24: " + strings.Repeat("00", 20) + "\n", baseLines + 3, "pcrs.sha1.24", "outside"},
		{"allow without digests", base + "ima:\n  allow:\n    - path: /bin/sh\n", baseLines + 3, "ima.allow[0].digests", "no digest"},
		{"bad digest", base + "ima:\n  allow:\n    - path: /bin/sh\n      digests: [sha256:abcd]\n", baseLines + 4, "ima.allow[0].digests[0]", "needs 32 bytes"},
		{"decodable template accepted unchecked", base + "ima:\n  templates: [ima-cgpath, ima-ng]\n", baseLines + 2, "ima.templates[1]", "decodes into a path and digest"},
		{"bad ima bank", base + "ima:\n  banks: [sha256, md5]\n", baseLines + 2, "ima.banks[1]", "unknown bank"},
		{"empty ima banks", base + "ima:\n  banks: []\n", baseLines + 2, "ima.banks", "empty"},
		{"bad maxAge", base + "maxAge: soon\n", baseLines + 1, "maxAge", "duration"},
		{"bad signer pem", strings.Replace(base, "-----BEGIN PUBLIC KEY-----", "-----BEGIN NONSENSE-----", 1), 4, "signers[0].publicKey", "PEM"},
		{"builder without keys", base + "builders:\n  - name: x\n", baseLines + 2, "", "builders"},
		{"type error", base + "ima:\n  maxEntries: many\n", baseLines + 2, "", "cannot unmarshal"},
		{"yaml syntax", base + "ima: [\n", baseLines + 2, "", ""},
		{"empty document", "", 0, "", "empty policy"},
		{"comments only", "# a policy\n", 0, "", "empty policy"},
		{"a list at the top level", "- version: 1\n", 1, "", "want a mapping at the top level"},
		{"a string at the top level", "\n\nversion 1\n", 3, "", "want a mapping at the top level"},
		{"allow pattern: unclosed class", base + "ima:\n  allow:\n    - path: /usr/bin/[\n      digests: [sha256:" + strings.Repeat("00", 32) + "]\n", baseLines + 3, "ima.allow[0].path", `the [ at byte 9 is not closed (write \[ for a literal [)`},
		{"exclude pattern: ** inside an element", base + "ima:\n  exclude: [/var/log/**]\n  deny: [/tmp/x, /usr/lib/**.so]\n", baseLines + 3, "ima.deny[1]", "** must be a whole path element"},
		{"exclude pattern: unbalanced brace", base + "ima:\n  exclude: [\"/a/b}\"]\n", baseLines + 2, "ima.exclude[0]", "closes no {"},
		{"source ref pattern", base + "source:\n  repository: https://example.com/r\n  refs: [refs/heads/main, \"refs/tags/[v\"]\n", baseLines + 3, "source.refs[1]", "is not closed"},
		{"fingerprint malformed", strings.Replace(base, "  - name: release\n", "  - name: release\n    fingerprint: sha256:00\n", 1), 4, "signers[0].fingerprint", `"sha256:00" is not a key fingerprint`},
		{"fingerprint in upper case", strings.Replace(base, "  - name: release\n", "  - name: release\n    fingerprint: sha256:"+strings.Repeat("AB", 32)+"\n", 1), 4, "signers[0].fingerprint", "64 lowercase hex digits"},
		{"fingerprint mismatch", strings.Replace(base, "  - name: release\n", "  - name: release\n    fingerprint: sha256:"+strings.Repeat("00", 32)+"\n", 1), 4, "signers[0].fingerprint", "the policy says sha256:0000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePolicy([]byte(tc.doc), "p.yaml")
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *PolicyError", err)
			}
			if !errors.Is(err, ErrPolicy) {
				t.Errorf("errors.Is(err, ErrPolicy) = false")
			}
			if tc.name == "builder without keys" || tc.name == "yaml syntax" {
				// yaml.v3 reports duplicate keys / syntax at its own line; it must be set.
				if pe.Line == 0 {
					t.Errorf("no line in %v", err)
				}
			} else if pe.Line != tc.line {
				t.Errorf("line = %d, want %d (%v)", pe.Line, tc.line, err)
			}
			if tc.field != "" && pe.Field != tc.field {
				t.Errorf("field = %q, want %q (%v)", pe.Field, tc.field, err)
			}
			if !strings.Contains(err.Error(), tc.errSubstr) {
				t.Errorf("message %q lacks %q", err, tc.errSubstr)
			}
		})
	}
}

func TestLoadPolicyKeyFiles(t *testing.T) {
	dir := t.TempDir()
	signer, _ := provtest.TestKeyPEM(t)
	ak, _ := provtest.TestKeyPEM(t)
	if err := os.WriteFile(filepath.Join(dir, "signer.pub"), []byte(signer), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ak.pub"), []byte(ak), 0o644); err != nil {
		t.Fatal(err)
	}
	doc := "version: 1\nsigners:\n  - publicKeyFile: signer.pub\nbuilders:\n  - name: b\n    attestationKeys:\n      - publicKeyFile: ak.pub\n      - publicKeyFile: missing.pub\n"
	path := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadPolicy(path)
	var pe *PolicyError
	if !errors.As(err, &pe) || pe.Line != 8 || pe.Field != "builders[0].attestationKeys[1].publicKeyFile" || pe.File != path {
		t.Fatalf("err = %v (%+v), want line 8 builders[0].attestationKeys[1].publicKeyFile", err, pe)
	}
	doc = strings.Replace(doc, "      - publicKeyFile: missing.pub\n", "", 1)
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := LoadPolicy(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.signers) != 1 || len(p.aks) != 1 {
		t.Fatalf("signers %d aks %d", len(p.signers), len(p.aks))
	}
}

func TestIMARules(t *testing.T) {
	d := func(b string) string { return "sha256:" + strings.Repeat(b, 32) }
	doc := provtest.BasePolicy(t) + `ima:
  allow:
    - path: /usr/bin/make
      digests: [` + d("11") + `]
    - path: /usr/lib/**
      digests: [` + d("22") + `]
    - path: /usr/lib/x86_64-linux-gnu/lib[cm].so.6
      digests: [` + d("33") + `]
    - path: "/usr/bin/\\["
      digests: [` + d("44") + `]
    - path: /opt/{tool,other}/bin/?
      digests: [` + d("55") + `]
  exclude: [/var/log/**]
  deny: [/tmp/**, "/home/*/.cache/**", "/dev/shm/[!.]*"]
`
	p, err := ParsePolicy([]byte(doc), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		m    Measurement
		rule string // "" = accepted
	}{
		{Measurement{Path: "/usr/bin/make", Digest: d("11")}, ""},
		{Measurement{Path: "/usr/bin/make", Digest: d("22")}, "allowlist"},
		{Measurement{Path: "/usr/lib/libc.so", Digest: d("22")}, ""},
		{Measurement{Path: "/usr/lib/libc.so", Digest: d("11")}, "allowlist"},
		{Measurement{Path: "/usr/bin/cc", Digest: d("11")}, "allowlist"},
		{Measurement{Path: "/var/log/x", Digest: d("99")}, ""},
		{Measurement{Path: "/tmp/evil", Digest: d("11")}, "deny"},
		// [...], ? and {a,b}; an escaped path is exact.
		{Measurement{Path: "/usr/lib/x86_64-linux-gnu/libm.so.6", Digest: d("33")}, ""},
		{Measurement{Path: "/usr/lib/x86_64-linux-gnu/libz.so.6", Digest: d("33")}, "allowlist"},
		{Measurement{Path: "/usr/bin/[", Digest: d("44")}, ""},
		{Measurement{Path: "/usr/bin/x", Digest: d("44")}, "allowlist"},
		{Measurement{Path: "/opt/other/bin/c", Digest: d("55")}, ""},
		{Measurement{Path: "/opt/tool/bin/cc", Digest: d("55")}, "allowlist"},
		{Measurement{Path: "/opt/third/bin/c", Digest: d("55")}, "allowlist"},
		{Measurement{Path: "/home/ci/.cache/go-build/x", Digest: d("11")}, "deny"},
		{Measurement{Path: "/home/ci/.cachex/y", Digest: d("11")}, "allowlist"},
		{Measurement{Path: "/dev/shm/payload", Digest: d("11")}, "deny"},
		// A deny pattern's class never matches "/", nor does "*" a newline
		// differently from any other byte.
		{Measurement{Path: "/dev/shm/.hidden", Digest: d("11")}, "allowlist"},
		{Measurement{Path: "/tmp/evil\nname", Digest: d("11")}, "deny"},
		{Measurement{Path: "/usr/bin/make", Violation: true}, "violation"},
		// An entry without a path and digest is refused before deny, which
		// could not match it.
		{Measurement{Template: "ima-xx", Digest: d("11"), Undecoded: templateDecoding("ima-xx")}, "template"},
		{Measurement{Template: "d-ng|buf", Digest: d("11"), Undecoded: templateDecoding("d-ng|buf")}, "template"},
		{Measurement{Template: "ima-ng", Path: "/usr/bin/make", Undecoded: "empty file digest"}, "template"},
		{Measurement{Template: "ima-xx", Violation: true, Undecoded: templateDecoding("ima-xx")}, "violation"},
	}
	for _, tc := range tests {
		if got, findings := firstIMARule(p, tc.m); got != tc.rule {
			t.Errorf("%+v: rule %q, want %q (%+v)", tc.m, got, tc.rule, findings)
		}
	}
}

// TestTemplateDecoding: which templates give the rules a path and a file
// digest. The kernel does not hash the template name, so this decides
// whether a renamed entry can hide from deny.
func TestTemplateDecoding(t *testing.T) {
	for _, tc := range []struct {
		name      string
		decodable bool
	}{
		{"ima", true}, {"ima-ng", true}, {"ima-ngv2", true}, {"ima-sig", true}, {"ima-buf", true}, {"ima-modsig", true},
		{"d-ng|n-ng", true}, {"d|n", true}, {"n-ng|d-ng|sig", true},
		{"ima-xx", false}, {"ima-cgpath", false}, {"d-ng|buf", false}, {"n-ng|sig", false}, {"d-ng|xattrnames", false}, {"", false},
	} {
		if got := templateDecoding(tc.name) == ""; got != tc.decodable {
			t.Errorf("templateDecoding(%q) decodable = %t, want %t (%s)", tc.name, got, tc.decodable, templateDecoding(tc.name))
		}
	}
}

// firstIMARule evaluates m alone against p's IMA rules and returns the rule
// of the first finding ("" for none) and the findings.
func firstIMARule(p *Policy, m Measurement) (string, []IMAFinding) {
	ev := p.IMA().NewEvaluation(nil)
	ev.Add(m)
	if len(ev.Tally().Findings) == 0 {
		return "", nil
	}
	return ev.Tally().Findings[0].Rule, ev.Tally().Findings
}

// TestIMAAcceptedTemplates: ima.templates accepts entries of the named
// undecodable templates unchecked (counted), and no others.
func TestIMAAcceptedTemplates(t *testing.T) {
	p, err := ParsePolicy([]byte(provtest.BasePolicy(t)+"ima:\n  templates: [ima-cgpath]\n  deny: [/tmp/**]\n"), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ev := p.IMA().NewEvaluation(nil)
	ev.Add(Measurement{Index: 1, Template: "ima-cgpath", Undecoded: templateDecoding("ima-cgpath")})
	if ev.Tally().FindingsTotal != 0 || ev.Tally().Unchecked != 1 {
		t.Errorf("ima-cgpath entry: %d findings, %d unchecked; want 0 and 1", ev.Tally().FindingsTotal, ev.Tally().Unchecked)
	}
	ev.Add(Measurement{Index: 2, Template: "ima-xx", Undecoded: templateDecoding("ima-xx")})
	if ev.Tally().FindingsTotal != 1 || ev.Tally().Findings[0].Rule != "template" || ev.Tally().Findings[0].Index != 2 {
		t.Errorf("ima-xx entry: findings %+v, want one of rule template for entry 2", ev.Tally().Findings)
	}
}

func TestKeylimeImport(t *testing.T) {
	dir := t.TempDir()
	kl := `{"meta":{"version":1,"generator":1,"timestamp":"2024"},"release":0,
 "digests":{"/usr/bin/make":["` + strings.Repeat("11", 32) + `"],"boot_aggregate":["` + strings.Repeat("00", 32) + `"]},
 "excludes":["/var/lib/.*","boot_aggregate2"],"keyrings":{},"ima":{"ignored_keyrings":[],"log_hash_alg":"sha1","dm_policy":null},
 "ima-buf":{},"verification-keys":""}`
	if err := os.WriteFile(filepath.Join(dir, "runtime.json"), []byte(kl), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(path, []byte(provtest.BasePolicy(t)+"ima:\n  keylimeRuntimePolicy: [runtime.json]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, load := range []func(string) (*Policy, error){LoadPolicy, LoadPolicyConcurrent} {
		p, err := load(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Wait(); err != nil {
			t.Fatal(err)
		}
		checkKeylimeImport(t, p)
	}

	for name, bad := range map[string]string{
		"no meta":      `{"digests":{}}`,
		"bad version":  `{"meta":{"version":7}}`,
		"bad digest":   `{"meta":{"version":1},"digests":{"/a":["xyz"]}}`,
		"python regex": `{"meta":{"version":1},"excludes":["(?<=a)b"]}`,
		"not json":     `digests: []`,
	} {
		if _, err := runtimepolicy.Read(strings.NewReader(bad), runtimepolicy.NewAllowlist()); !errors.Is(err, ErrKeylime) {
			t.Errorf("%s: err = %v, want ErrKeylime", name, err)
		}
		// Loaded in the background, the same error comes from Wait and
		// Ready, and every entry evaluated is a finding naming it.
		if err := os.WriteFile(filepath.Join(dir, "runtime.json"), []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		_, want := LoadPolicy(path)
		var pe *PolicyError
		if !errors.As(want, &pe) || !errors.Is(want, ErrKeylime) || pe.Field != "ima.keylimeRuntimePolicy[0]" {
			t.Fatalf("%s: LoadPolicy: err = %v, want a PolicyError at ima.keylimeRuntimePolicy[0] and ErrKeylime", name, want)
		}
		p, err := LoadPolicyConcurrent(path)
		if err != nil {
			t.Fatalf("%s: LoadPolicyConcurrent: %v, want the error from Wait", name, err)
		}
		ev := p.IMA().NewEvaluation(nil)
		ev.Add(Measurement{Index: 7, Path: "/var/lib/x", Digest: "sha256:" + strings.Repeat("11", 32)})
		if err := p.Wait(); err == nil || err.Error() != want.Error() {
			t.Errorf("%s: Wait = %v, want %v", name, err, want)
		}
		if err := p.IMA().Ready(); err == nil || err.Error() != want.Error() {
			t.Errorf("%s: Ready = %v, want %v", name, err, want)
		}
		if tl := ev.Tally(); tl.FindingsTotal != 1 || tl.Findings[0].Index != 7 || !strings.Contains(tl.Findings[0].Detail, want.Error()) {
			t.Errorf("%s: findings %+v, want one for entry 7 naming %v", name, tl.Findings, want)
		}
	}
}

// TestKeylimeConcurrentLaterError: a field after ima that fails is
// LoadPolicyConcurrent's error as LoadPolicy's, the Keylime import not
// started (run with -race: only the import's goroutine uses the loader).
func TestKeylimeConcurrentLaterError(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"meta":{"version":7}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "p.yaml")
	doc := provtest.BasePolicy(t) + "ima:\n  keylimeRuntimePolicy: [bad.json]\nsource:\n  repository: https://example.com/r\n  refs: [\"refs/tags/[v\"]\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	_, want := LoadPolicy(path) // the Keylime policy's error: read in order
	if !errors.Is(want, ErrKeylime) {
		t.Fatalf("LoadPolicy: %v, want ErrKeylime", want)
	}
	_, err := LoadPolicyConcurrent(path) // the source's: the Keylime policy is read later
	var pe *PolicyError
	if !errors.As(err, &pe) || pe.Field != "source.refs[0]" {
		t.Fatalf("LoadPolicyConcurrent: %v, want the error of source.refs[0]", err)
	}
}

func checkKeylimeImport(t *testing.T, p *Policy) {
	t.Helper()
	for _, tc := range []struct {
		m    Measurement
		rule string
	}{
		{Measurement{Path: "/usr/bin/make", Digest: "sha256:" + strings.Repeat("11", 32)}, ""},
		{Measurement{Path: "/usr/bin/make", Digest: "sha256:" + strings.Repeat("12", 32)}, "allowlist"},
		{Measurement{Path: "/var/lib/dpkg/x", Digest: "sha256:" + strings.Repeat("12", 32)}, ""},
		{Measurement{Path: "/usr/var/lib/x", Digest: "sha256:" + strings.Repeat("12", 32)}, "allowlist"}, // re.match anchors at the start
		{Measurement{Path: "/usr/bin/cc", Digest: "sha256:" + strings.Repeat("11", 32)}, "allowlist"},
	} {
		if got, _ := firstIMARule(p, tc.m); got != tc.rule {
			t.Errorf("%+v: rule %q, want %q", tc.m, got, tc.rule)
		}
	}
}

// TestPolicyErrorChain: a policy error keeps the cause in its chain beside
// ErrPolicy (a missing key file or Keylime policy is fs.ErrNotExist).
func TestPolicyErrorChain(t *testing.T) {
	dir := t.TempDir()
	base := provtest.BasePolicy(t)
	for _, doc := range []string{
		base + "ima:\n  keylimeRuntimePolicy: [missing.json]\n",
		"version: 1\nsigners:\n  - publicKeyFile: missing.pem\n",
	} {
		path := filepath.Join(dir, "p.yaml")
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, load := range []func(string) (*Policy, error){LoadPolicy, LoadPolicyConcurrent} {
			_, err := load(path) // a file that cannot be opened: at once, also in the background load
			if !errors.Is(err, ErrPolicy) || !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("err = %v: want ErrPolicy and fs.ErrNotExist in the chain", err)
			}
		}
	}
}

// TestSourceRefPatterns: source.refs are patterns of the one path dialect
// (internal/pathglob), like the IMA and artifact patterns.
func TestSourceRefPatterns(t *testing.T) {
	doc := provtest.BasePolicy(t) + "source:\n  repository: https://example.com/r\n  refs: ['refs/tags/v[0-9]*', 'refs/heads/release/**', 'refs/heads/{main,dev}', 'refs/heads/\\*']\n"
	p, err := ParsePolicy([]byte(doc), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := p.SourceRule()
	for ref, want := range map[string]bool{
		"refs/tags/v1.2.3": true, "refs/tags/vX": false, "refs/tags/v1/x": false,
		"refs/heads/release/1.x": true, "refs/heads/release/a/b": true, "refs/heads/releasex": false,
		"refs/heads/main": true, "refs/heads/dev": true, "refs/heads/mainx": false,
		"refs/heads/*": true, "refs/heads/feature": false,
	} {
		if got := r.RefAllowed(ref); got != want {
			t.Errorf("RefAllowed(%q) = %v, want %v", ref, got, want)
		}
	}
}
