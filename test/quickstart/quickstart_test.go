// Package quickstart_test holds the README's quick start to its promise: one
// fenced block with exactly two commands, the first of which runs the main
// job for real on the embedded simulator (attest, verify, inspect).
package quickstart_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/internal/realtest"
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// quickStartCommands returns the commands of the README's Quick start
// section, which must hold exactly one fenced code block.
func quickStartCommands(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	sec := regexp.MustCompile(`(?s)\n## Quick start\n(.*?)\n## `).FindStringSubmatch(string(data))
	if sec == nil {
		t.Fatal("README.md has no '## Quick start' section followed by another section")
	}
	blocks := regexp.MustCompile("(?s)```[a-z]*\n(.*?)```").FindAllStringSubmatch(sec[1], -1)
	if len(blocks) != 1 {
		t.Fatalf("Quick start has %d fenced blocks, want 1", len(blocks))
	}
	var cmds []string
	sc := bufio.NewScanner(strings.NewReader(blocks[0][1]))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			cmds = append(cmds, l)
		}
	}
	return cmds
}

func TestReadmeQuickStartHasTwoCommands(t *testing.T) {
	cmds := quickStartCommands(t)
	if len(cmds) != 2 || cmds[1] != "make test" {
		t.Fatalf("Quick start commands %q, want the main job then make test", cmds)
	}
}

// The README's first command, run as a new user would from the repository
// root: it must attest, verify (PASS) and inspect the example build.
func TestReadmeFirstCommandRunsTheMainJob(t *testing.T) {
	realtest.LookPath(t, "gcc", "gcc")
	realtest.LookPath(t, "make", "make")
	first := quickStartCommands(t)[0]
	cmd := exec.Command("bash", "-c", first)
	cmd.Dir = repoRoot()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", first, err, out)
	}
	attestation := filepath.Join(repoRoot(), ".cache", "quickstart", "hello", "dist", "hello.tar.gz.intoto.jsonl")
	for _, want := range []string{
		"attest-build: wrote " + attestation,
		"PASS  " + filepath.Join(repoRoot(), ".cache", "quickstart", "hello", "dist", "hello.tar.gz"),
		"NOT VERIFIED: inspect verifies nothing",
		"TPM mode:    sim (the embedded simulator: proves nothing about hardware)",
		"attestation:  " + attestation,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("%s: output lacks %q:\n%s", first, want, out)
		}
	}
	if _, err := os.Stat(attestation); err != nil {
		t.Error(err)
	}
	// Its output here is a pipe, not a terminal: no escape sequences.
	if i := strings.Index(string(out), "\x1b["); i >= 0 {
		t.Errorf("%s: terminal escape sequence in output that is not a terminal, at byte %d:\n%q", first, i, out[max(0, i-40):min(len(out), i+40)])
	}
}
