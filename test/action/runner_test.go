// Package action_test runs the composite action in action.yml the way a
// GitHub runner does: it reads the steps, evaluates their `if:` conditions and
// `${{ }}` expressions, runs each `run:` script with real bash
// (`bash --noprofile --norc -eo pipefail FILE`) in a GitHub-like environment,
// and collects $GITHUB_OUTPUT, $GITHUB_ENV, $GITHUB_PATH and
// $GITHUB_STEP_SUMMARY as the runner does. Only the expression subset the
// action uses is supported; anything else fails the test, so action.yml cannot
// drift into syntax this harness does not run.
package action_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// actionFile is the part of action.yml's schema a composite action uses.
type actionFile struct {
	Name        string            `yaml:"name"`
	Description string            `yaml:"description"`
	Author      string            `yaml:"author"`
	Branding    map[string]string `yaml:"branding"`
	Inputs      map[string]struct {
		Description string `yaml:"description"`
		Default     string `yaml:"default"`
		Required    bool   `yaml:"required"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Description string `yaml:"description"`
		Value       string `yaml:"value"`
	} `yaml:"outputs"`
	Runs struct {
		Using string       `yaml:"using"`
		Steps []actionStep `yaml:"steps"`
	} `yaml:"runs"`
}

type actionStep struct {
	ID               string            `yaml:"id"`
	Name             string            `yaml:"name"`
	If               string            `yaml:"if"`
	Shell            string            `yaml:"shell"`
	Run              string            `yaml:"run"`
	Uses             string            `yaml:"uses"`
	With             map[string]string `yaml:"with"`
	Env              map[string]string `yaml:"env"`
	WorkingDirectory string            `yaml:"working-directory"`
}

func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func loadAction(t testing.TB) *actionFile { return loadActionFile(t, "action.yml") }

// loadActionFile reads an action's metadata, rel to the repository root
// ("action.yml", "verify/action.yml").
func loadActionFile(t testing.TB, rel string) *actionFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	var a actionFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	for name, in := range a.Inputs {
		if in.Description == "" {
			t.Errorf("%s: input %q has no description", rel, name)
		}
	}
	for name, out := range a.Outputs {
		if out.Description == "" {
			t.Errorf("%s: output %q has no description", rel, name)
		}
	}
	if a.Runs.Using != "composite" {
		t.Fatalf("%s: runs.using %q, want composite", rel, a.Runs.Using)
	}
	return &a
}

// stepResult records one step as the runner saw it.
type stepResult struct {
	Name    string
	Skipped bool
	Exit    int
	Outputs map[string]string
	Log     string // stdout and stderr
}

// runResult is the outcome of one action run.
type runResult struct {
	Steps   []stepResult
	Outputs map[string]string // the action's outputs
	Summary string            // $GITHUB_STEP_SUMMARY
	Failed  bool
	// SetupGo holds the `with:` of actions/setup-go when the run needed it.
	SetupGo map[string]string
}

func (r *runResult) log() string {
	var b strings.Builder
	for _, s := range r.Steps {
		fmt.Fprintf(&b, "--- step %q skipped=%v exit=%d outputs=%v\n%s", s.Name, s.Skipped, s.Exit, s.Outputs, s.Log)
	}
	return b.String()
}

// failedStep returns the step that failed, or nil.
func (r *runResult) failedStep() *stepResult {
	for i := range r.Steps {
		if !r.Steps[i].Skipped && r.Steps[i].Exit != 0 {
			return &r.Steps[i]
		}
	}
	return nil
}

// runner holds a GitHub-like job environment.
type runner struct {
	t         *testing.T
	action    *actionFile
	actionDir string
	workspace string
	temp      string
	env       map[string]string // job environment (GITHUB_*, RUNNER_*, PATH, ...)
	// setupGo emulates actions/setup-go: the folder it would add to PATH.
	setupGo string
	realGo  string // the folder of the real go
	stepN   int    // numbers each step's file-command folder
}

// newRunner makes a job environment whose workspace is workspace. It sets the
// variables GitHub sets on a self-hosted Linux runner for a push to main.
func newRunner(t *testing.T, workspace string) *runner {
	t.Helper()
	temp := t.TempDir()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go not on PATH: %v", err)
	}
	env := map[string]string{
		"PATH":                       os.Getenv("PATH"),
		"HOME":                       os.Getenv("HOME"),
		"LANG":                       "C.UTF-8",
		"CI":                         "true",
		"GITHUB_ACTIONS":             "true",
		"GITHUB_WORKSPACE":           workspace,
		"GITHUB_SERVER_URL":          "https://github.com",
		"GITHUB_API_URL":             "https://api.github.com",
		"GITHUB_REPOSITORY":          "octo-org/hello",
		"GITHUB_REPOSITORY_ID":       "123456",
		"GITHUB_REPOSITORY_OWNER":    "octo-org",
		"GITHUB_REPOSITORY_OWNER_ID": "654321",
		"GITHUB_SHA":                 "0123456789abcdef0123456789abcdef01234567",
		"GITHUB_REF":                 "refs/heads/main",
		"GITHUB_REF_NAME":            "main",
		"GITHUB_REF_TYPE":            "branch",
		"GITHUB_EVENT_NAME":          "push",
		"GITHUB_WORKFLOW":            "release",
		"GITHUB_WORKFLOW_REF":        "octo-org/hello/.github/workflows/release.yml@refs/heads/main",
		"GITHUB_WORKFLOW_SHA":        "0123456789abcdef0123456789abcdef01234567",
		"GITHUB_RUN_ID":              "9876543210",
		"GITHUB_RUN_NUMBER":          "42",
		"GITHUB_RUN_ATTEMPT":         "2",
		"GITHUB_JOB":                 "build",
		"GITHUB_ACTOR":               "octocat",
		"RUNNER_OS":                  "Linux",
		"RUNNER_ARCH":                "X64",
		"RUNNER_NAME":                "tpm-runner-1",
		"RUNNER_ENVIRONMENT":         "self-hosted",
		"RUNNER_TEMP":                temp,
		// The Go caches of the machine running the tests, so the action's
		// `go build` compiles from them instead of downloading.
		"GOCACHE":     goEnv(t, goBin, "GOCACHE"),
		"GOMODCACHE":  goEnv(t, goBin, "GOMODCACHE"),
		"GOPROXY":     goEnv(t, goBin, "GOPROXY"),
		"GOFLAGS":     "",
		"GOTOOLCHAIN": "local",
	}
	summary := filepath.Join(temp, "_runner_file_commands", "step_summary")
	if err := os.MkdirAll(filepath.Dir(summary), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(summary, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	env["GITHUB_STEP_SUMMARY"] = summary
	shim := goShim(t, goBin)
	env["PATH"] = shim + string(os.PathListSeparator) + env["PATH"]
	return &runner{t: t, action: loadAction(t), actionDir: repoRoot(t), workspace: workspace, temp: temp, env: env,
		setupGo: shim, realGo: filepath.Dir(goBin)}
}

// useRealGo takes the go shim (goshim_test.go) off PATH: the action builds
// attest-build with the real go.
func (r *runner) useRealGo() {
	var kept []string
	for _, p := range filepath.SplitList(r.env["PATH"]) {
		if p != r.setupGo {
			kept = append(kept, p)
		}
	}
	r.env["PATH"] = strings.Join(kept, string(os.PathListSeparator))
	r.setupGo = r.realGo
}

// newSubRunner is newRunner for the action whose metadata is rel
// ("verify/action.yml"): github.action_path is its folder.
func newSubRunner(t *testing.T, workspace, rel string) *runner {
	t.Helper()
	r := newRunner(t, workspace)
	r.action = loadActionFile(t, rel)
	r.actionDir = filepath.Join(repoRoot(t), filepath.Dir(rel))
	return r
}

func goEnv(t *testing.T, goBin, name string) string {
	out, err := exec.Command(goBin, "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// context is what expressions see during one run.
type exprContext struct {
	inputs map[string]string
	steps  map[string]map[string]string
	github map[string]string
	runner map[string]string
	env    map[string]string
}

// run runs the action with the given inputs (unknown inputs fail the test, as
// GitHub warns and ignores them).
func (r *runner) run(inputs map[string]string) *runResult {
	t := r.t
	t.Helper()
	ctx := &exprContext{
		inputs: map[string]string{},
		steps:  map[string]map[string]string{},
		github: map[string]string{"action_path": r.actionDir, "workspace": r.workspace, "repository": r.env["GITHUB_REPOSITORY"],
			"sha": r.env["GITHUB_SHA"], "ref": r.env["GITHUB_REF"], "run_id": r.env["GITHUB_RUN_ID"]},
		runner: map[string]string{"temp": r.temp, "os": "Linux"},
		env:    r.env,
	}
	for name, in := range r.action.Inputs {
		ctx.inputs[name] = in.Default
	}
	for name, v := range inputs {
		if _, ok := r.action.Inputs[name]; !ok {
			t.Fatalf("input %q is not declared in action.yml", name)
		}
		ctx.inputs[name] = v
	}
	res := &runResult{Outputs: map[string]string{}}
	for i, st := range r.action.Runs.Steps {
		name := st.Name
		if name == "" {
			name = fmt.Sprintf("step %d", i)
		}
		sr := stepResult{Name: name, Outputs: map[string]string{}}
		cond := "success()"
		if st.If != "" {
			cond = st.If
		}
		ok := !res.Failed
		if cond != "success()" {
			v, err := evalExpr(stripDelims(cond), ctx)
			if err != nil {
				t.Fatalf("step %q: if %q: %v", name, st.If, err)
			}
			ok = ok && truthy(v)
		}
		if !ok {
			sr.Skipped = true
			res.Steps = append(res.Steps, sr)
			continue
		}
		switch {
		case st.Uses != "":
			with := map[string]string{}
			for k, v := range st.With {
				with[k] = r.interpolate(name, v, ctx)
			}
			r.uses(st.Uses, with, res)
		case st.Run != "":
			if st.Shell != "bash" {
				t.Fatalf("step %q: shell %q; composite steps here must say shell: bash", name, st.Shell)
			}
			r.runScript(name, st, ctx, &sr)
			if st.ID != "" {
				ctx.steps[st.ID] = sr.Outputs
			}
			if sr.Exit != 0 {
				res.Failed = true
			}
		default:
			t.Fatalf("step %q has neither run nor uses", name)
		}
		res.Steps = append(res.Steps, sr)
	}
	for name, o := range r.action.Outputs {
		res.Outputs[name] = r.interpolate("outputs."+name, o.Value, ctx)
	}
	summary, err := os.ReadFile(r.env["GITHUB_STEP_SUMMARY"])
	if err != nil {
		t.Fatal(err)
	}
	res.Summary = string(summary)
	return res
}

// uses emulates the one action this composite action may call.
func (r *runner) uses(ref string, with map[string]string, res *runResult) {
	t := r.t
	if !strings.HasPrefix(ref, "actions/setup-go@") {
		t.Fatalf("uses %q: this harness emulates only actions/setup-go", ref)
	}
	if !pinnedUses.MatchString(ref) {
		t.Fatalf("uses %q: not pinned by a full commit SHA", ref)
	}
	if f := with["go-version-file"]; f != "" {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("actions/setup-go: go-version-file %q: %v", f, err)
		}
	} else if with["go-version"] == "" {
		t.Fatal("actions/setup-go without go-version or go-version-file")
	}
	res.SetupGo = with
	// setup-go installs Go and prepends it to PATH for later steps.
	r.env["PATH"] = r.setupGo + string(os.PathListSeparator) + r.env["PATH"]
}

// runScript runs a run: step as the runner does: the script in a file, run by
// bash --noprofile --norc -eo pipefail, with fresh GITHUB_OUTPUT, GITHUB_ENV
// and GITHUB_PATH files read back afterwards.
func (r *runner) runScript(name string, st actionStep, ctx *exprContext, sr *stepResult) {
	t := r.t
	r.stepN++
	dir := filepath.Join(r.temp, "_runner_file_commands", fmt.Sprintf("step%d", r.stepN))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "script.sh")
	if err := os.WriteFile(script, []byte(r.interpolate(name, st.Run, ctx)), 0o644); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range []string{"GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH"} {
		files[f] = filepath.Join(dir, strings.ToLower(f))
		if err := os.WriteFile(files[f], nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{}
	for k, v := range r.env {
		env[k] = v
	}
	for k, v := range files {
		env[k] = v
	}
	env["GITHUB_ACTION_PATH"] = r.actionDir
	for k, v := range st.Env {
		env[k] = r.interpolate(name, v, ctx)
	}
	wd := r.workspace
	if st.WorkingDirectory != "" {
		wd = filepath.Join(r.workspace, r.interpolate(name, st.WorkingDirectory, ctx))
	}
	cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", script)
	cmd.Dir = wd
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	err := cmd.Run()
	sr.Log = log.String()
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("step %q: %v", name, err)
		}
		sr.Exit = ee.ExitCode()
	}
	sr.Outputs = parseFileCommand(t, files["GITHUB_OUTPUT"])
	for k, v := range parseFileCommand(t, files["GITHUB_ENV"]) {
		r.env[k] = v
	}
	paths, err := os.ReadFile(files["GITHUB_PATH"])
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Split(strings.TrimSpace(string(paths)), "\n") {
		if p != "" {
			r.env["PATH"] = p + string(os.PathListSeparator) + r.env["PATH"]
		}
	}
}

// parseFileCommand reads a GITHUB_OUTPUT / GITHUB_ENV file: NAME=VALUE lines
// and NAME<<DELIMITER heredocs, as the runner does.
func parseFileCommand(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		if name, delim, ok := strings.Cut(line, "<<"); ok && !strings.Contains(name, "=") {
			var val []string
			closed := false
			for sc.Scan() {
				if sc.Text() == delim {
					closed = true
					break
				}
				val = append(val, sc.Text())
			}
			if !closed {
				t.Fatalf("%s: heredoc %s<<%s not closed", path, name, delim)
			}
			out[name] = strings.Join(val, "\n")
			continue
		}
		name, val, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: line %q is neither NAME=VALUE nor NAME<<DELIMITER", path, line)
		}
		out[name] = val
	}
	return out
}

var exprRE = regexp.MustCompile(`\$\{\{(.*?)\}\}`)

// interpolate replaces each ${{ expr }} in s.
func (r *runner) interpolate(where, s string, ctx *exprContext) string {
	return exprRE.ReplaceAllStringFunc(s, func(m string) string {
		v, err := evalExpr(exprRE.FindStringSubmatch(m)[1], ctx)
		if err != nil {
			r.t.Fatalf("%s: %s: %v", where, m, err)
		}
		return toString(v)
	})
}

func stripDelims(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "${{") && strings.HasSuffix(s, "}}") {
		return s[3 : len(s)-2]
	}
	return s
}
