package main

import (
	"bytes"
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
