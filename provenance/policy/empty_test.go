package policy

import (
	"github.com/attest-build/attest-build/runtimepolicy"

	"os"
	"path/filepath"
	"strings"
	"testing"
)

const emptyTestPolicyHead = "version: 1\nbuilderIds: [x]\n"

// TestEmptyAllowlistsAllowNothing: an allowlist that is present lists what
// is allowed; an empty one allows nothing (issue 12: allow: [] and a
// Keylime runtime policy with empty digests used to allow every entry).
func TestEmptyAllowlistsAllowNothing(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("empty.json", `{"meta":{"version":1},"digests":{},"excludes":[]}`)
	write("nodigests.json", `{"meta":{"version":1},"excludes":["^/var/"]}`)
	entry := Measurement{Index: 3, Template: "ima-ng", Path: "/tmp/evil/run.sh", Digest: "sha256:" + strings.Repeat("00", 32)}
	for name, yaml := range map[string]string{
		"allow: []":                        "ima:\n  allow: []\n",
		"allow: (no value)":                "ima:\n  allow:\n  deny: []\n",
		"allow: null":                      "ima:\n  allow: null\n",
		"Keylime digests {}":               "ima:\n  keylimeRuntimePolicy: [empty.json]\n",
		"Keylime without digests":          "ima:\n  keylimeRuntimePolicy: [nodigests.json]\n",
		"allow: [] and Keylime digests {}": "ima:\n  allow: []\n  keylimeRuntimePolicy: [empty.json]\n",
	} {
		t.Run(name, func(t *testing.T) {
			p, err := LoadPolicy(write("p.yaml", emptyTestPolicyHead+yaml))
			if err != nil {
				t.Fatal(err)
			}
			if !p.ima.hasAllowlist() {
				t.Fatal("no allowlist in force")
			}
			ev := p.IMA().NewEvaluation(nil)
			ev.Add(entry)
			if tl := ev.Tally(); tl.FindingsTotal != 1 || tl.Findings[0].Rule != "allowlist" {
				t.Fatalf("findings %+v, want one of rule allowlist", tl.Findings)
			}
		})
	}
	// No allowlist at all: deny and violation rules only.
	p, err := LoadPolicy(write("p.yaml", emptyTestPolicyHead+"ima:\n  deny: [\"/usr/**\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	ev := p.IMA().NewEvaluation(nil)
	ev.Add(entry)
	if p.ima.hasAllowlist() || ev.Tally().FindingsTotal != 0 {
		t.Fatalf("no allowlist: allowlist %t, findings %+v", p.ima.hasAllowlist(), ev.Tally().Findings)
	}
}

// TestPolicyListsAudit: every other list of the policy, empty, either
// fails closed or is refused at load.
func TestPolicyListsAudit(t *testing.T) {
	for name, yaml := range map[string]string{
		"tpmModes: []":                "tpmModes: []\n",
		"ima.banks: []":               "ima:\n  banks: []\n",
		"pcrs with an empty bank":     "pcrs:\n  sha256: {}\n",
		"allow entry without digests": "ima:\n  allow:\n    - path: /usr/bin/make\n      digests: []\n",
		"builder without keys":        "builders:\n  - name: b\n    attestationKeys: []\n",
	} {
		if _, err := ParsePolicy([]byte(emptyTestPolicyHead+yaml), name); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	// Empty lists that fail closed by their meaning, and load (a verifier
	// refuses a policy without signer or attestation key: verify's tests).
	p, err := ParsePolicy([]byte(emptyTestPolicyHead+"signers: []\nbuilders: []\nima:\n  templates: []\n  exclude: []\n  deny: []\n"), "empty lists")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.AttestationKeys()) != 0 || len(p.Signers()) != 0 {
		t.Fatal("empty signers and builders loaded keys")
	}
}

// TestKeylimeStrictJSON: the Keylime policy is read one way only.
func TestKeylimeStrictJSON(t *testing.T) {
	for name, doc := range map[string]string{
		"digests twice":  `{"meta":{"version":1},"digests":{"/a":["` + strings.Repeat("00", 32) + `"]},"digests":{}}`,
		"Digests beside": `{"meta":{"version":1},"Digests":{},"digests":{"/a":["` + strings.Repeat("00", 32) + `"]}}`,
		"path twice":     `{"meta":{"version":1},"digests":{"/a":[],"/a":["` + strings.Repeat("00", 32) + `"]}}`,
		"data after":     `{"meta":{"version":1}} {}`,
	} {
		if _, err := runtimepolicy.Read(strings.NewReader(doc), runtimepolicy.NewAllowlist()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := runtimepolicy.Read(strings.NewReader(`{"meta":{"version":1,"generator":1},"release":0,"digests":{},"keyrings":{},"ima":{"log_hash_alg":"sha1"},"ima-buf":{},"verification-keys":""}`), runtimepolicy.NewAllowlist()); err != nil {
		t.Fatalf("a Keylime policy with members attest-build does not import: %v", err)
	}
}
