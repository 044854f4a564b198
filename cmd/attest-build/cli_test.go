package main

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

// runCLI runs a fresh command tree with args and returns what it printed to
// stdout and stderr together.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := New()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// runMain runs args through run, as main does, and returns stdout, stderr
// and the exit status.
func runMain(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), code
}

// Progress notes go to a terminal only: never to a buffer, a file or a pipe.
func TestProgressOnlyToTerminal(t *testing.T) {
	var buf bytes.Buffer
	if terminalOrNil(&buf) != nil {
		t.Error("a buffer gets progress notes")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if terminalOrNil(w) != nil {
		t.Error("a pipe gets progress notes")
	}
}

// exitCode is the status main gives err.
func exitCode(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case isUsage(err):
		return 2
	}
	return 1
}
