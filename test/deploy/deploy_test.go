// Package deploy_test holds examples/deploy.sh to its documented exit
// status for usage errors (2): a missing file, attest-build not found.
// Its verdicts (0 deployed, 1 refused) are tested with real attestations
// in test/action.
package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestDeployScriptUsageErrors(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "examples", "deploy.sh")
	dir := t.TempDir()
	exist := filepath.Join(dir, "exists")
	if err := os.WriteFile(exist, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	fake := filepath.Join(dir, "attest-build") // never run: the checks come first
	if err := os.WriteFile(fake, []byte("#!/bin/sh\nexit 99\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		bin  string
		args []string
		want string
	}{
		{"no arguments", fake, nil, "usage:"},
		{"missing artifact", fake, []string{exist, exist, missing}, missing + ": not a readable file"},
		{"missing policy", fake, []string{missing, exist, exist, exist}, missing + ": not a readable file"},
		{"missing attestation", fake, []string{exist, exist, exist}, exist + ".intoto.jsonl: not a readable file"},
		{"attest-build not found", filepath.Join(dir, "no-such-attest-build"), []string{exist, exist, exist, exist}, "not found: put attest-build on PATH"},
	} {
		cmd := exec.Command(script, tc.args...)
		cmd.Env = append(os.Environ(), "ATTEST_BUILD="+tc.bin)
		out, err := cmd.CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s: %v, want exit 2 and %q:\n%s", tc.name, err, tc.want, out)
		}
	}
}
