package action_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Mistakes in the inputs fail the job with exit status 2 and a GitHub error
// annotation naming the input, before anything runs; a key's value is never
// printed.
func TestActionRefusesBadInputs(t *testing.T) {
	const secret = "SECRET-VALUE-7f3a"
	for _, tc := range []struct {
		name   string
		inputs map[string]string
		step   string
		msg    string
	}{
		{"unknown mode", map[string]string{"mode": "deploy"}, "Refuse an unknown mode", "input mode is 'deploy'; want build or verify"},
		{"no command", map[string]string{"key": "k.pem"}, "Run and attest the build", "input 'command' is empty"},
		{"no key", map[string]string{"command": "true"}, "Run and attest the build", "input 'key' is empty"},
		{"key neither PEM nor file", map[string]string{"command": "true", "key": secret}, "Run and attest the build", "input 'key' is neither PEM key text nor a readable file"},
		{"verify without policy", map[string]string{"mode": "verify", "artifacts": "a"}, "Verify before deploy", "input 'policy' is empty"},
		{"bundle not a boolean", map[string]string{"command": "true", "key": "k.pem", "bundle": "yes"}, "Run and attest the build", "input 'bundle' is 'yes'; want true or false"},
		{"detach-log not a boolean", map[string]string{"command": "true", "key": "k.pem", "detach-log": "1"}, "Run and attest the build", "input 'detach-log' is '1'; want true or false"},
		{"verify bundles and attestation", map[string]string{"mode": "verify", "policy": "p.yaml", "artifacts": "a", "attestation": "a.intoto.jsonl", "bundles": "a.slsa.sigstore.json"},
			"Verify before deploy", "inputs 'bundles' and 'attestation' both given"},
		{"verify without artifacts", map[string]string{"mode": "verify", "policy": "p.yaml", "artifacts": "\n  # none\n"}, "Verify before deploy", "input 'artifacts' is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRunner(t, t.TempDir())
			res := r.run(tc.inputs)
			f := res.failedStep()
			if f == nil || f.Name != tc.step || f.Exit != 2 {
				t.Fatalf("want step %q to fail with status 2:\n%s", tc.step, res.log())
			}
			if !strings.Contains(f.Log, "::error title=attest-build::") || !strings.Contains(f.Log, tc.msg) {
				t.Errorf("step log lacks the error annotation %q:\n%s", tc.msg, f.Log)
			}
			if strings.Contains(res.log(), secret) {
				t.Errorf("the key's value appears in the log:\n%s", res.log())
			}
			after := false
			for _, s := range res.Steps {
				if after && !s.Skipped {
					t.Errorf("step %q ran after the failure", s.Name)
				}
				after = after || s.Name == tc.step
			}
		})
	}
}

// Where the runner has no Go, the action calls actions/setup-go with its own
// go.mod; where it has one, it does not, and builds attest-build with it.
func TestActionSetsUpGoOnlyWhenAbsent(t *testing.T) {
	t.Run("absent", func(t *testing.T) {
		r := newRunner(t, t.TempDir())
		goDir := r.setupGo
		var kept []string
		for _, p := range filepath.SplitList(r.env["PATH"]) {
			if _, err := os.Stat(filepath.Join(p, "go")); err != nil {
				kept = append(kept, p)
			}
		}
		r.env["PATH"] = strings.Join(kept, string(os.PathListSeparator))
		res := r.run(map[string]string{"mode": "verify"}) // fails later, at the missing policy
		if res.SetupGo == nil {
			t.Fatalf("actions/setup-go did not run with Go absent:\n%s", res.log())
		}
		if got, want := res.SetupGo["go-version-file"], filepath.Join(r.actionDir, "go.mod"); got != want {
			t.Errorf("setup-go go-version-file %q, want %q", got, want)
		}
		if bin := stepByName(t, res, "Build attest-build from the action's source"); bin.Exit != 0 || !strings.HasPrefix(bin.Outputs["bin"], r.temp) {
			t.Errorf("install after setup-go (Go from %s): exit %d, outputs %v:\n%s", goDir, bin.Exit, bin.Outputs, bin.Log)
		}
	})
	t.Run("present", func(t *testing.T) {
		r := newRunner(t, t.TempDir())
		res := r.run(map[string]string{"mode": "verify"})
		if res.SetupGo != nil {
			t.Errorf("actions/setup-go ran although Go is on PATH:\n%s", res.log())
		}
		if s := stepByName(t, res, "Look for Go"); s.Outputs["found"] != "true" {
			t.Errorf("Look for Go: outputs %v:\n%s", s.Outputs, s.Log)
		}
		bin := res.Outputs["bin"]
		if fi, err := os.Stat(bin); err != nil || fi.Mode()&0o111 == 0 {
			t.Fatalf("action output bin %q is not an executable: %v", bin, err)
		}
	})
}

func stepByName(t *testing.T, res *runResult, name string) *stepResult {
	t.Helper()
	for i := range res.Steps {
		if res.Steps[i].Name == name {
			return &res.Steps[i]
		}
	}
	t.Fatalf("no step %q:\n%s", name, res.log())
	return nil
}
