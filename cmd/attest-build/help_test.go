package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every command a user runs has a one-line summary and examples in --help.
func TestEveryCommandHasHelpWithExamples(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" || (c.HasParent() && c.Parent().Name() == "completion") {
			return
		}
		if c.Short == "" {
			t.Errorf("%q has no Short", c.CommandPath())
		}
		if c.Runnable() && !c.HasSubCommands() && !strings.Contains(c.Example, "attest-build") {
			t.Errorf("%q has no example in its help", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	root := New()
	root.InitDefaultCompletionCmd()
	walk(root)
}

// Shell completion comes from cobra: bash, zsh, fish and powershell scripts.
func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		cmd := New()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetArgs([]string{"completion", shell})
		if err := cmd.Execute(); err != nil {
			t.Fatalf("completion %s: %v", shell, err)
		}
		if !strings.Contains(out.String(), "attest-build") {
			t.Errorf("completion %s: script does not name attest-build:\n%.300s", shell, out.String())
		}
	}
}
