package action_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/attest-build/attest-build/internal/swtpmtest"
)

// On a runner with a TPM and no key input, the action signs with the
// TPM-resident key (-k tpm): the attestation carries the key's
// certification by the AK, and its authorization file is made 0600 in the
// runner user's configuration folder, outside the workspace.
func TestActionUsesTPMKeyByDefault(t *testing.T) {
	sw := swtpmtest.Start(t)
	ws := t.TempDir()
	r := newRunner(t, ws)
	r.env["XDG_CONFIG_HOME"] = filepath.Join(t.TempDir(), "config")
	// An empty IMA log (a fresh swtpm's PCR 10 is zero): a missing
	// --ima-log is refused before the build.
	imaLog := filepath.Join(t.TempDir(), "binary_runtime_measurements")
	if err := os.WriteFile(imaLog, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	res := r.run(map[string]string{
		"command":   "echo x > out.bin",
		"artifacts": "out.bin",
		"tpm":       sw.Ref(),
		"ima-log":   imaLog,
	})
	if f := res.failedStep(); f != nil {
		t.Fatalf("build job failed at %q:\n%s", f.Name, res.log())
	}
	stmts := readStatements(t, res.Outputs["attestation"])
	st, ok := stmts["https://github.com/attest-build/attest-build/predicates/tpm-ima/v0.1"]
	if !ok {
		t.Fatalf("no TPM/IMA statement among %v", keys(stmts))
	}
	var p struct {
		SigningKey *struct {
			CertifyInfo []byte `json:"certifyInfo"`
		} `json:"signingKey"`
	}
	if err := json.Unmarshal(st.Predicate, &p); err != nil {
		t.Fatal(err)
	}
	if p.SigningKey == nil || len(p.SigningKey.CertifyInfo) == 0 {
		t.Fatalf("the attestation was not signed by the TPM-resident key:\n%s", res.log())
	}
}
