package action_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/attest-build/attest-build/internal/realtest"
)

// simKey writes a signing key for tpm: sim builds and returns its PEM text.
func simKey(t *testing.T) string {
	t.Helper()
	realtest.LookPath(t, "gcc", "gcc") // tpm: sim is built with cgo
	keyPEM, _ := newSigningKey(t)
	return string(keyPEM)
}

// A process the build leaves behind (here in a session of its own, looping
// to replace the attestation and the artifact with links to a runner-only
// key file, as the review's did) cannot redirect what the action hands on:
// attest-build ends it before hashing, the attestation is written under
// RUNNER_TEMP, not in the build-writable workspace, and the `attestation`
// output names a plain regular file there.
func TestActionOutputsOnlyFilesTheBuildCannotTouch(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("setsid(1) not installed (util-linux)")
	}
	key := simKey(t)
	ws := t.TempDir()
	secret := filepath.Join(t.TempDir(), "runner-only.key")
	if err := os.WriteFile(secret, []byte("RUNNER-ONLY SECRET"), 0o600); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(ws, "leftover.pid")
	command := `mkdir -p dist && echo app > dist/app.tar.gz
setsid sh -c 'echo $$ > "$1"; while :; do ln -sfn "$2" dist/app.tar.gz.intoto.jsonl; ln -sfn "$2" dist/app.tar.gz.tmp; done' sh ` + pidFile + ` ` + secret + ` </dev/null >/dev/null 2>&1 &
while [ ! -s ` + pidFile + ` ]; do sleep 0.01; done`
	r := newRunner(t, ws)
	res := r.run(map[string]string{"command": command, "artifacts": "dist/app.tar.gz", "key": key, "tpm": "sim"})
	b, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid > 1 {
		defer syscall.Kill(pid, syscall.SIGKILL)
	}
	if f := res.failedStep(); f != nil {
		t.Fatalf("build job failed at %q:\n%s", f.Name, res.log())
	}
	if pid <= 1 {
		t.Fatalf("the build did not record its leftover's PID (%q)", b)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
		t.Errorf("the build's leftover process %d still runs after the step", pid)
	}
	att := res.Outputs["attestation"]
	if !strings.HasPrefix(att, r.temp+string(filepath.Separator)) || strings.HasPrefix(att, ws) {
		t.Errorf("output attestation %q is not under RUNNER_TEMP %s", att, r.temp)
	}
	fi, err := os.Lstat(att)
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("output attestation %q is not a regular file: %v %v", att, fi, err)
	}
	if data, _ := os.ReadFile(att); strings.Contains(string(data), "RUNNER-ONLY") {
		t.Fatal("the output attestation is the runner-only file")
	}
	if stmts := readStatements(t, att); len(stmts) != 2 {
		t.Errorf("the attestation holds %d statements, want 2", len(stmts))
	}
	if !strings.Contains(res.log(), "ended them before hashing") {
		t.Errorf("the step does not report the process it ended:\n%s", res.log())
	}
}

// An artifact whose name starts with "-" is a file, not an option, in every
// command the action runs; file names in the summary cannot break out of
// its code blocks.
func TestActionFileArgumentsAfterDoubleDash(t *testing.T) {
	key := simKey(t)
	ws := t.TempDir()
	r := newRunner(t, ws)
	res := r.run(map[string]string{"command": "echo x > ./-x", "artifacts": "-x", "key": key, "tpm": "sim"})
	if f := res.failedStep(); f != nil {
		t.Fatalf("build job failed at %q:\n%s", f.Name, res.log())
	}
	if filepath.Base(res.Outputs["attestation"]) != "-x.intoto.jsonl" || !strings.Contains(res.Summary, "-x") {
		t.Errorf("attestation %q, summary:\n%s", res.Outputs["attestation"], res.Summary)
	}
}

// A build-created file name with CR, ESC or a bidi override is refused (the
// step fails, nothing attested), and the text printed about it, in the log
// and the summary, holds none of those characters raw.
func TestActionRefusesDisguisedNames(t *testing.T) {
	key := simKey(t)
	for _, name := range []string{"a\r### verify: pass", "evil\u202egnp.tar.gz", "x\x1b[2J"} {
		t.Run(strconv.Quote(name), func(t *testing.T) {
			ws := t.TempDir()
			if err := os.WriteFile(filepath.Join(ws, "name"), []byte(name), 0o644); err != nil {
				t.Fatal(err)
			}
			r := newRunner(t, ws)
			res := r.run(map[string]string{"command": `echo x > "$(cat name)"`, "key": key, "tpm": "sim"})
			f := res.failedStep()
			if f == nil || f.Name != "Run and attest the build" {
				t.Fatalf("the build step did not fail:\n%s", res.log())
			}
			if !strings.Contains(f.Log, "subject name") {
				t.Errorf("the failure does not name the subject name:\n%s", f.Log)
			}
			if strings.ContainsAny(f.Log+res.Summary, "\r\x1b\u202e") {
				t.Errorf("a disguising character reached the log or the summary:\n%q", f.Log+res.Summary)
			}
			if left, _ := filepath.Glob(filepath.Join(r.temp, "attest-build-out.*", "*")); len(left) > 0 {
				t.Errorf("attested anyway: %v", left)
			}
		})
	}
}

// The job summary fences text the action does not control (verify's report,
// inspect's output) so that nothing in it closes the block: a lone CR or a
// longer run of backticks stays inside, and control and bidi characters are
// shown escaped.
func TestActionSummaryFence(t *testing.T) {
	hostile := "ok\r### verify: pass\n````\n[link](https://evil.example)\n\x1b[1m \u202e \xc2\x85 \\x0d"
	cmd := exec.Command("bash", "--noprofile", "--norc", "-c", `source "$1"; printf '%s' "$2" | fenced text`, "bash",
		filepath.Join(repoRoot(t), "scripts", "action", "lib.sh"), hostile)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	open := strings.TrimSuffix(lines[0], "text")
	if len(open) <= 4 || strings.Trim(open, "`") != "" || lines[len(lines)-1] != open {
		t.Fatalf("fence %q ... %q: not longer than the text's backtick runs:\n%s", lines[0], lines[len(lines)-1], out)
	}
	for _, l := range lines[1 : len(lines)-1] {
		if strings.HasPrefix(strings.TrimSpace(l), open) {
			t.Errorf("line %q closes the fence", l)
		}
	}
	if strings.ContainsAny(string(out), "\r\x1b\u202e\u0085") {
		t.Errorf("raw control or bidi characters in the fenced text: %q", out)
	}
	for _, want := range []string{`ok\x0d### verify: pass`, `\x1b[1m`, `\u202e`, `\u0085`, `\\x0d`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("fenced text lacks %q: %q", want, out)
		}
	}
}

// A private key written in a workflow file (so printed in the log) is
// refused, and the error does not show it.
func TestActionRefusesKeyFromWorkflowFile(t *testing.T) {
	keyPEM, _ := newSigningKey(t)
	ws := t.TempDir()
	wf := filepath.Join(ws, ".github", "workflows")
	if err := os.MkdirAll(wf, 0o755); err != nil {
		t.Fatal(err)
	}
	indented := "          key: |\n            " + strings.ReplaceAll(strings.TrimSpace(string(keyPEM)), "\n", "\n            ") + "\n"
	if err := os.WriteFile(filepath.Join(wf, "release.yml"), []byte("jobs:\n  build:\n    steps:\n"+indented), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newRunner(t, ws)
	res := r.run(map[string]string{"command": "true", "key": string(keyPEM)})
	f := res.failedStep()
	if f == nil || f.Name != "Run and attest the build" || f.Exit != 2 || !strings.Contains(f.Log, "store it as a secret") {
		t.Fatalf("want the build step to refuse the key with status 2:\n%s", res.log())
	}
	if strings.Contains(res.log(), strings.Split(string(keyPEM), "\n")[1]) {
		t.Error("the key appears in the log")
	}
}
