package action_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/internal/imatest"
	"github.com/attest-build/attest-build/internal/realtest"
	"github.com/attest-build/attest-build/internal/swtpmtest"
)

// With baseline-dir the build step passes --baseline-dir: the first build
// of the boot makes a baseline, the second one continuing it, each
// attestation carrying only the IMA entries since its own baseline; the
// baselines output lists this boot's baselines in chain order. The deploy
// job verifies with them downloaded (baseline: the folder; the action's
// verify mode and the verify sub-action), and fails without them.
func TestActionBaselineDir(t *testing.T) {
	sw := swtpmtest.Start(t)
	pcrextend := realtest.LookPath(t, "tpm2_pcrextend", "tpm2-tools")
	ws := t.TempDir()
	keyPEM, pubPEM := newSigningKey(t)
	pubFile := filepath.Join(ws, "signing.pub")
	if err := os.WriteFile(pubFile, pubPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	extend := imatest.SWTPMExtender(t, sw)
	imaLog := filepath.Join(t.TempDir(), "binary_runtime_measurements")
	imatest.Append(t, imaLog, []string{"boot_aggregate", "/usr/bin/bash", "/usr/bin/make"}, extend)
	baselineDir := filepath.Join(t.TempDir(), "baselines")
	bootID, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		t.Fatal(err)
	}

	// build runs the build step writing name, during which one record
	// (for path) joins the log and PCR 10, as the kernel would add it.
	build := func(name, path string) (*runResult, ima) {
		t.Helper()
		rec, th, td := imatest.Record(path)
		recFile := filepath.Join(t.TempDir(), "record")
		if err := os.WriteFile(recFile, rec, 0o644); err != nil {
			t.Fatal(err)
		}
		res := newRunner(t, ws).run(map[string]string{
			"command": fmt.Sprintf("cat %q >> %q && %q -T %q 10:sha1=%x,sha256=%x && echo %s > %s",
				recFile, imaLog, pcrextend, sw.TCTI(), th, td, name, name),
			"artifacts":    name,
			"key":          string(keyPEM),
			"tpm":          sw.Ref(),
			"ima-log":      imaLog,
			"baseline-dir": baselineDir,
		})
		if f := res.failedStep(); f != nil {
			t.Fatalf("build of %s failed at %q:\n%s", name, f.Name, res.log())
		}
		if strings.Contains(res.log(), "inside the workspace") {
			t.Errorf("a baseline directory outside the workspace warned:\n%s", res.log())
		}
		return res, imaOf(t, res.Outputs["attestation"])
	}
	wantBaselines := func(res *runResult, n int) []string {
		t.Helper()
		got := strings.Split(res.Outputs["baselines"], "\n")
		files, _ := filepath.Glob(filepath.Join(baselineDir, strings.TrimSpace(string(bootID))+"-*.baseline.intoto.jsonl"))
		if len(got) != n || strings.Join(got, "\n") != strings.Join(files, "\n") {
			t.Fatalf("output baselines %q, want the %d of this boot in %s: %q", got, n, baselineDir, files)
		}
		if !strings.Contains(res.Summary, got[n-1]) {
			t.Errorf("the job summary does not name the baseline %s:\n%s", got[n-1], res.Summary)
		}
		return got
	}

	res1, ima1 := build("one.bin", "/usr/bin/cc")
	wantBaselines(res1, 1)
	if ima1.Baseline.Entries != 3 || ima1.Log.First != 3 || ima1.Log.Entries != 1 {
		t.Fatalf("first build: %+v; want the baseline at 3 and 1 entry carried", ima1)
	}
	imatest.Append(t, imaLog, []string{"/usr/bin/ld", "/usr/bin/as"}, extend) // between the jobs
	res2, ima2 := build("two.bin", "/usr/bin/strip")
	baselines := wantBaselines(res2, 2)
	// The second carries only its own entry: the 6 before it are in the
	// two baselines.
	if ima2.Baseline.Entries != 6 || ima2.Log.First != 6 || ima2.Log.Entries != 1 {
		t.Fatalf("second build: %+v; want the baseline at 6 and 1 entry carried", ima2)
	}

	// Deploy job: the attestations and the baselines, downloaded.
	dl := filepath.Join(ws, "baselines")
	if err := os.Mkdir(dl, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range baselines {
		if err := os.WriteFile(filepath.Join(dl, filepath.Base(f)), mustReadFile(t, f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, res := range []*runResult{res1, res2} {
		att := res.Outputs["attestation"]
		if err := os.WriteFile(filepath.Join(ws, filepath.Base(att)), mustReadFile(t, att), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	policy := filepath.Join(ws, "policy.yaml")
	if out, err := exec.Command(res2.Outputs["bin"], "policy", "init", "--from", res2.Outputs["attestation"], "--key", pubFile, "--baseline", dl, "-o", policy).CombinedOutput(); err != nil {
		t.Fatalf("policy init: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name   string
		runner func() *runner
		inputs map[string]string
	}{
		{"mode: verify", func() *runner { return newRunner(t, ws) }, map[string]string{"mode": "verify", "artifacts": "one.bin", "policy": policy, "baseline": "baselines"}},
		{"mode: verify, two files", func() *runner { return newRunner(t, ws) }, map[string]string{"mode": "verify", "artifacts": "two.bin", "policy": policy, "baseline": strings.Join([]string{
			filepath.Join("baselines", filepath.Base(baselines[0])), filepath.Join("baselines", filepath.Base(baselines[1]))}, "\n")}},
		{"verify sub-action", func() *runner { return newSubRunner(t, ws, "verify/action.yml") }, map[string]string{"artifacts": "two.bin", "policy": policy, "baseline": dl}},
	} {
		res := tc.runner().run(tc.inputs)
		if f := res.failedStep(); f != nil || res.Outputs["verdict"] != "pass" {
			t.Fatalf("%s with the baselines: verdict %q:\n%s", tc.name, res.Outputs["verdict"], res.log())
		}
		if !strings.Contains(res.Summary, "ima-baseline") {
			t.Errorf("%s: the report does not show the ima-baseline check:\n%s", tc.name, res.Summary)
		}
	}
	// Without the baselines, or without the first, the second fails.
	for _, baseline := range []string{"", filepath.Join("baselines", filepath.Base(baselines[1]))} {
		res := newRunner(t, ws).run(map[string]string{"mode": "verify", "artifacts": "two.bin", "policy": policy, "baseline": baseline})
		if f := res.failedStep(); f == nil || f.Name != "Verify before deploy" || f.Exit != 1 || res.Outputs["verdict"] != "fail" ||
			!strings.Contains(res.Summary, "ima-baseline") || !strings.Contains(res.Summary, "FAIL") {
			t.Fatalf("baseline %q: want the verify step to fail with status 1 at ima-baseline:\n%s\n%s", baseline, res.log(), res.Summary)
		}
	}
}

// A baseline-dir inside the workspace warns: a build or a checkout can
// remove the baselines the attestations need. It is passed as an absolute
// path; without an IMA log (tpm: sim) no baseline is made or listed.
func TestActionBaselineDirInWorkspaceWarns(t *testing.T) {
	ws := t.TempDir()
	res := newRunner(t, ws).run(map[string]string{"command": "echo x > x.bin", "artifacts": "x.bin", "key": simKey(t), "tpm": "sim", "baseline-dir": "baselines"})
	if f := res.failedStep(); f != nil {
		t.Fatalf("build failed at %q:\n%s", f.Name, res.log())
	}
	if !strings.Contains(res.log(), "::warning title=attest-build::the baseline directory is inside the workspace") {
		t.Errorf("no warning for a baseline directory in the workspace:\n%s", res.log())
	}
	if !strings.Contains(res.log(), "--baseline-dir="+filepath.Join(ws, "baselines")) {
		t.Errorf("baseline-dir not passed as an absolute --baseline-dir:\n%s", res.log())
	}
	// The simulator without an IMA log carries no log: no baseline is made.
	if got := res.Outputs["baselines"]; got != "" {
		t.Errorf("output baselines %q without an IMA log, want empty", got)
	}
}

// ima is the part of the TPM/IMA predicate the baseline tests read.
type ima struct {
	Baseline struct {
		Digest  string `json:"digest"`
		Entries int    `json:"entries"`
	} `json:"baseline"`
	Log struct {
		First   int `json:"first"`
		Entries int `json:"entries"`
	} `json:"log"`
}

func imaOf(t *testing.T, att string) ima {
	t.Helper()
	var pred struct {
		IMA ima `json:"ima"`
	}
	if err := json.Unmarshal(readStatements(t, att)["https://github.com/attest-build/attest-build/predicates/tpm-ima/v0.1"].Predicate, &pred); err != nil {
		t.Fatal(err)
	}
	return pred.IMA
}
