package action_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/internal/realtest"
)

// actionlintVersion is the actionlint built from the module proxy.
const actionlintVersion = "v1.7.12"

// actionFiles are the repository's action metadata files.
var actionFiles = []string{"action.yml", "verify/action.yml"}

// pinnedUses matches a third-party action reference pinned by a full commit
// SHA.
var pinnedUses = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$`)

// usesLine matches a `uses:` line and its trailing comment.
var usesLine = regexp.MustCompile(`^\s*(?:-\s+)?uses:\s*(\S+)\s*(#.*)?$`)

// Every third-party action the actions and the example workflow call is
// pinned by a full commit SHA, with the version it is named in a comment;
// local actions (./...) are the only exception.
func TestActionsPinnedBySHA(t *testing.T) {
	files := append([]string{"examples/github/release.yml", "examples/github/release-incremental.yml"}, actionFiles...)
	for _, rel := range files {
		f, err := os.Open(filepath.Join(repoRoot(t), rel))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		n, found := 0, 0
		for sc.Scan() {
			n++
			m := usesLine.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			found++
			ref, comment := m[1], m[2]
			if strings.HasPrefix(ref, "./") {
				continue
			}
			if !pinnedUses.MatchString(ref) {
				t.Errorf("%s:%d: uses %s is not pinned by a full commit SHA", rel, n, ref)
			}
			if !regexp.MustCompile(`^#\s*v\d+(\.\d+)*$`).MatchString(comment) {
				t.Errorf("%s:%d: uses %s: want a '# vX.Y.Z' comment naming the pinned version, found %q", rel, n, ref, comment)
			}
		}
		f.Close()
		if found == 0 {
			t.Errorf("%s: no uses: line found", rel)
		}
	}
}

// The verify sub-action marks the inputs it cannot run without as required
// and documents its outputs (loadActionFile refuses undocumented ones).
func TestVerifySubActionMetadata(t *testing.T) {
	a := loadActionFile(t, "verify/action.yml")
	for _, name := range []string{"artifacts", "policy"} {
		if in, ok := a.Inputs[name]; !ok || !in.Required || in.Default != "" {
			t.Errorf("verify/action.yml: input %q: %+v, want required without a default", name, in)
		}
	}
	// Its optional inputs are the main action's verify inputs, by the same
	// names.
	main := loadAction(t)
	for name, in := range a.Inputs {
		if !in.Required && !slices.Contains([]string{"attestation", "bundles", "ima-log", "baseline", "public-key", "working-directory"}, name) {
			t.Errorf("verify/action.yml: unexpected optional input %q", name)
		}
		if _, ok := main.Inputs[name]; !ok {
			t.Errorf("verify/action.yml: input %q is not an input of action.yml", name)
		}
	}
	for _, name := range []string{"verdict", "bin"} {
		if _, ok := a.Outputs[name]; !ok {
			t.Errorf("verify/action.yml: no output %q", name)
		}
	}
}

// shellcheck accepts the action's scripts and every run: block of the
// actions (with ${{ }} expressions replaced by a plain word, as the runner
// substitutes them before bash sees the text).
func TestShellcheck(t *testing.T) {
	sc := realtest.LookPath(t, "shellcheck", "shellcheck")
	root := repoRoot(t)
	scripts, err := filepath.Glob(filepath.Join(root, "scripts", "action", "*.sh"))
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts under scripts/action (%v)", err)
	}
	expr := regexp.MustCompile(`\$\{\{[^}]*\}\}`)
	dir := t.TempDir()
	for _, rel := range actionFiles {
		a := loadActionFile(t, rel)
		for i, st := range a.Runs.Steps {
			if st.Run == "" {
				continue
			}
			p := filepath.Join(dir, strings.ReplaceAll(rel, "/", "_")+"-step"+string(rune('a'+i))+".sh")
			body := "#!/usr/bin/env bash\nset -eo pipefail\n" + expr.ReplaceAllString(st.Run, "EXPR") + "\n"
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			scripts = append(scripts, p)
		}
	}
	// shellcheck reads scripts/action/.shellcheckrc (where lib.sh is) for
	// the scripts; the run: blocks source nothing.
	args := append([]string{"-s", "bash"}, scripts...)
	cmd := exec.Command(sc, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}

// actionlint (built from the module proxy, with shellcheck for run: blocks)
// accepts the example workflow, which calls both actions by local path, so
// it also checks the inputs it gives against their action.yml files.
func TestActionlint(t *testing.T) {
	sc := realtest.LookPath(t, "shellcheck", "shellcheck")
	al := realtest.GoTool(t, "github.com/rhysd/actionlint/cmd/actionlint", actionlintVersion)
	root := repoRoot(t)
	// actionlint resolves local actions from the repository root, found
	// by its .github folder: lint a copy laid out as a repository.
	repo := t.TempDir()
	wf := filepath.Join(repo, ".github", "workflows")
	if err := os.MkdirAll(filepath.Join(repo, "verify"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(wf, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]string{
		{"examples/github/release.yml", ".github/workflows/release.yml"},
		{"examples/github/release-incremental.yml", ".github/workflows/release-incremental.yml"},
		{"examples/github/actionlint.yaml", ".github/actionlint.yaml"},
		{"action.yml", "action.yml"},
		{"verify/action.yml", "verify/action.yml"},
	} {
		if err := os.WriteFile(filepath.Join(repo, c[1]), mustReadFile(t, filepath.Join(root, c[0])), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// actionlint finds its project (local actions, the config) by the
	// repository's .git.
	if err := os.Mkdir(filepath.Join(repo, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(al, "-shellcheck", sc, "-no-color", filepath.Join(wf, "release.yml"), filepath.Join(wf, "release-incremental.yml"))
	cmd.Dir = repo
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("actionlint: %v\n%s", err, out)
	}
	// It checks the inputs against our metadata: a workflow that leaves
	// out a required input of ./verify, or gives one neither action has,
	// is refused.
	for _, c := range []struct{ file, old, new, want string }{
		{"release.yml", "          policy: deploy/policy.yaml\n", "", "policy"},
		{"release-incremental.yml", "          baseline: baselines\n", "          baselines: baselines\n", "baselines"},
	} {
		bad := bytes.Replace(mustReadFile(t, filepath.Join(root, "examples/github", c.file)), []byte(c.old), []byte(c.new), 1)
		if err := os.WriteFile(filepath.Join(wf, c.file), bad, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd = exec.Command(al, "-shellcheck", sc, "-no-color", filepath.Join(wf, c.file))
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("actionlint accepts %s with %q replaced by %q (err %v):\n%s", c.file, c.old, c.new, err, out)
		}
	}
}

func mustReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
