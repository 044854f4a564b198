package action_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/internal/imatest"
	"github.com/attest-build/attest-build/internal/swtpmtest"
)

// With bundle: true and detach-log: true the build step writes the two
// Sigstore bundles and the detached IMA log beside the attestation (in the
// step's own folder of RUNNER_TEMP) and names them in its outputs; the
// deploy job verifies the bundles with the detached log (the action's
// verify mode and the verify sub-action), and fails on a changed log.
func TestActionBundleAndDetachedLog(t *testing.T) {
	sw := swtpmtest.Start(t)
	ws := t.TempDir()
	keyPEM, pubPEM := newSigningKey(t)
	pubFile := filepath.Join(ws, "signing.pub")
	if err := os.WriteFile(pubFile, pubPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	// An IMA log whose records the swtpm's PCR 10 holds, as a kernel's.
	imaLog := filepath.Join(t.TempDir(), "binary_runtime_measurements")
	imatest.Append(t, imaLog, []string{"boot_aggregate", "/usr/bin/bash", "/usr/bin/make"}, imatest.SWTPMExtender(t, sw))
	build := newRunner(t, ws)
	res := build.run(map[string]string{
		"command":    "echo bundled > out.bin",
		"artifacts":  "out.bin",
		"key":        string(keyPEM),
		"tpm":        sw.Ref(),
		"ima-log":    imaLog,
		"bundle":     "true",
		"detach-log": "true",
	})
	if f := res.failedStep(); f != nil {
		t.Fatalf("build job failed at %q:\n%s", f.Name, res.log())
	}
	att := res.Outputs["attestation"]
	base := strings.TrimSuffix(att, ".intoto.jsonl")
	if filepath.Base(att) != "out.bin.intoto.jsonl" || !strings.HasPrefix(att, build.temp+string(filepath.Separator)) {
		t.Fatalf("output attestation = %q, want out.bin.intoto.jsonl under RUNNER_TEMP", att)
	}
	wantBundles := []string{base + ".tpm-ima.sigstore.json", base + ".slsa.sigstore.json"}
	if got := res.Outputs["bundles"]; got != strings.Join(wantBundles, "\n") {
		t.Errorf("output bundles = %q, want %q", got, wantBundles)
	}
	wantLog := base + ".ima.binary_runtime_measurements"
	if got := res.Outputs["ima-log"]; got != wantLog {
		t.Errorf("output ima-log = %q, want %q", got, wantLog)
	}
	wantFiles := append(append([]string{att}, wantBundles...), wantLog)
	if got := res.Outputs["files"]; got != strings.Join(wantFiles, "\n") {
		t.Errorf("output files = %q, want %q", got, wantFiles)
	}
	for _, f := range wantFiles {
		fi, err := os.Lstat(f)
		if err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%s: %v, want a regular file", f, err)
		}
		if !strings.Contains(res.Summary, f) {
			t.Errorf("the job summary does not name %s:\n%s", f, res.Summary)
		}
	}
	// The predicate holds the detached log's SHA-256, not its data.
	var pred struct {
		IMA struct {
			Log struct {
				SHA256   string `json:"sha256"`
				Detached bool   `json:"detached"`
				Data     string `json:"data"`
			} `json:"log"`
		} `json:"ima"`
	}
	if err := json.Unmarshal(readStatements(t, att)["https://github.com/attest-build/attest-build/predicates/tpm-ima/v0.1"].Predicate, &pred); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(mustReadFile(t, wantLog))
	if l := pred.IMA.Log; !l.Detached || l.Data != "" || l.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("predicate ima.log %+v, want detached with the log file's SHA-256 %x", l, sum)
	}

	// Deploy job: the bundles and the log, downloaded into the workspace.
	dl := filepath.Join(ws, "downloaded")
	if err := os.Mkdir(dl, 0o755); err != nil {
		t.Fatal(err)
	}
	var bundles []string
	for _, f := range wantFiles[1:] {
		dst := filepath.Join(dl, filepath.Base(f))
		if err := os.WriteFile(dst, mustReadFile(t, f), 0o644); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(dst, ".sigstore.json") {
			bundles = append(bundles, dst)
		}
	}
	dlLog := filepath.Join(dl, filepath.Base(wantLog))
	policy := filepath.Join(ws, "policy.yaml")
	if out, err := exec.Command(res.Outputs["bin"], "policy", "init", "--from", att, "--key", pubFile, "-o", policy).CombinedOutput(); err != nil {
		t.Fatalf("policy init: %v\n%s", err, out)
	}
	inputs := map[string]string{"artifacts": "out.bin", "policy": policy, "public-key": pubFile,
		"bundles": strings.Join(bundles, "\n"), "ima-log": dlLog}
	verifyInputs := map[string]string{"mode": "verify"}
	for k, v := range inputs {
		verifyInputs[k] = v
	}
	for _, tc := range []struct {
		name   string
		runner func() *runner
		inputs map[string]string
	}{
		{"mode: verify", func() *runner { return newRunner(t, ws) }, verifyInputs},
		{"verify sub-action", func() *runner { return newSubRunner(t, ws, "verify/action.yml") }, inputs},
	} {
		res := tc.runner().run(tc.inputs)
		if f := res.failedStep(); f != nil || res.Outputs["verdict"] != "pass" {
			t.Fatalf("%s with bundles and the detached log: verdict %q:\n%s", tc.name, res.Outputs["verdict"], res.log())
		}
		if !strings.Contains(res.Summary, "ima-log") {
			t.Errorf("%s: the report does not show the ima-log check:\n%s", tc.name, res.Summary)
		}
	}

	// A changed detached log fails the deploy job.
	if err := os.WriteFile(dlLog, []byte("not the log\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res = newRunner(t, ws).run(verifyInputs)
	if f := res.failedStep(); f == nil || f.Name != "Verify before deploy" || f.Exit != 1 || res.Outputs["verdict"] != "fail" {
		t.Fatalf("want the verify step to fail with status 1 on a changed log:\n%s", res.log())
	}
}
