package main

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/internal/buildinfo"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Every command a user runs, the groups (ima, tpm, key, policy,
// completion) included, has a one-line summary and examples in --help.
func TestEveryCommandHasHelpWithExamples(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || (c.HasParent() && c.Parent().Name() == "completion") {
			return
		}
		if c.Short == "" {
			t.Errorf("%q has no Short", c.CommandPath())
		}
		if !strings.Contains(c.Example, "attest-build") {
			t.Errorf("%q has no example in its help", c.CommandPath())
		} else if help, _ := runCLI(t, append(strings.Fields(c.CommandPath())[1:], "--help")...); !strings.Contains(help, "Examples:\n") {
			t.Errorf("%q --help shows no examples:\n%s", c.CommandPath(), help)
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

// Shell completion offers the values of every flag that takes one of a
// fixed set, wherever the flag is.
func TestCompletionOfEnumeratedFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--tpm", ""}, []string{"auto", "/dev/tpmrm0", "/dev/tpm0", "swtpm:", "sim"}},
		{[]string{"tpm", "info", "--tpm", ""}, []string{"auto", "/dev/tpmrm0", "/dev/tpm0", "swtpm:", "sim"}},
		{[]string{"--ak-alg", ""}, []string{"ecc-p256", "rsa-2048"}},
		{[]string{"tpm", "ak", "--ak-alg", ""}, []string{"ecc-p256", "rsa-2048"}},
		{[]string{"verify", "--format", ""}, []string{"text", "json"}},
		{[]string{"inspect", "--format", ""}, []string{"text", "json"}},
		{[]string{"ima", "replay", "--format", ""}, []string{"text", "json"}},
		{[]string{"ima", "replay", "--bank", ""}, []string{"sha1", "sha256", "sha384", "sha512"}},
		{[]string{"policy", "init", "--scope", ""}, []string{"boot", "window"}},
		{[]string{"key", "generate", "--algorithm", ""}, []string{"ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-3072"}},
	} {
		out, err := runCLI(t, append([]string{cobra.ShellCompRequestCmd}, tc.args...)...)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		var got []string
		for _, l := range lines {
			if !strings.HasPrefix(l, ":") && !strings.HasPrefix(l, "Completion ended") {
				got = append(got, strings.SplitN(l, "\t", 2)[0])
			}
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%v: completions %q, want %q", tc.args, got, tc.want)
		}
	}
}

// --version and the version command print the module version, the VCS
// revision and the Go version; the JSON form has the same fields.
func TestVersion(t *testing.T) {
	want := "attest-build " + buildinfo.Read().String() + "\n"
	for _, args := range [][]string{{"--version"}, {"version"}} {
		stdout, stderr, code := runMain(t, "", args...)
		if code != 0 || stdout != want || stderr != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 0 and %q", args, code, stdout, stderr, want)
		}
	}
	if !strings.Contains(want, " (revision ") || !strings.HasSuffix(want, " "+runtime.Version()+"\n") {
		t.Errorf("version line %q lacks the revision or the Go version", want)
	}
	stdout, _, code := runMain(t, "", "version", "--format", "json")
	var info buildinfo.Info
	if err := json.Unmarshal([]byte(stdout), &info); code != 0 || err != nil || info != buildinfo.Read() || info.GoVersion != runtime.Version() {
		t.Errorf("version --format json: exit %d, %v, %+v", code, err, info)
	}
}
