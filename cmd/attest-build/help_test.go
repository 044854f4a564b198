package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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

// Every flag that takes a value shows a placeholder that says what it is
// (pflag takes the first `backquoted` word of the usage; without one it
// shows the type, "string"), and every command's usage shows its usage
// line: the groups' template, which leaves theirs out, is not inherited.
func TestHelpPlaceholdersAndUsageLines(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			name, _ := pflag.UnquoteUsage(f)
			if f.Value.Type() == "bool" {
				return
			}
			if name == "" || strings.ToUpper(name) != name || strings.ContainsAny(name, "*`") {
				t.Errorf("%s --%s: placeholder %q, want an upper-case word", c.CommandPath(), f.Name, name)
			}
		})
		usage := c.UsageString()
		if c.HasSubCommands() {
			if c.HasParent() && !strings.HasPrefix(usage, "Usage:\n  "+c.CommandPath()+" [command]\n") {
				t.Errorf("%q: the usage of a group names only '%s [command]':\n%s", c.CommandPath(), c.CommandPath(), usage)
			}
		} else if !strings.Contains(usage, "Usage:\n  "+c.UseLine()) {
			t.Errorf("%q: usage lacks its line %q:\n%s", c.CommandPath(), c.UseLine(), usage)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(New())
}
