package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/spf13/cobra"
)

// exitError carries an exit status chosen by a command (the wrapped build's
// status, or 1 for a failed verification whose report is already printed).
type exitError struct {
	code int
	err  error // printed to stderr when not nil
}

func (e *exitError) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return fmt.Sprintf("exit status %d", e.code)
}

func (e *exitError) Unwrap() error { return e.err }

// usageError marks a command-line mistake or an input file that cannot be
// read (exit status 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error {
	return &usageError{err: fmt.Errorf(format, a...)}
}

// isUsage reports whether err is a usage error (exit status 2). Cobra's
// own errors become usage errors where they arise: flag errors through the
// root's FlagErrorFunc, argument errors through usageArgs, required flags
// and flag groups through the root's PersistentPreRunE, unknown and missing
// subcommands through asGroup.
func isUsage(err error) bool {
	var ue *usageError
	return errors.As(err, &ue)
}

// inputError classifies an error met while reading an input file: a file
// that cannot be read at all (missing, a directory, no permission: an
// *fs.PathError anywhere in the chain) is a usage error, exit status 2;
// anything else, such as malformed content, is left as it is (exit status
// 1). Use it only on errors of reading, never of writing.
func inputError(err error) error {
	var pe *fs.PathError
	if err != nil && !isUsage(err) && errors.As(err, &pe) {
		return &usageError{err: err}
	}
	return err
}

// usageArgs makes an argument validator's errors usage errors.
func usageArgs(validate cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		err := validate(cmd, args)
		if err != nil && !isUsage(err) {
			return &usageError{err: err}
		}
		return err
	}
}

// asGroup makes cmd a command that only holds subcommands: run without one,
// or with an unknown one, it fails with a usage error naming them (cobra
// would print the help and exit 0).
func asGroup(cmd *cobra.Command) {
	names := func(c *cobra.Command) string {
		var s []string
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				s = append(s, sub.Name())
			}
		}
		return strings.Join(s, ", ")
	}
	// Runnable now, the group would show "attest-build ima [flags]" as a
	// usage line: only "attest-build ima [command]" is one. Its subcommands
	// keep the template they had (they would inherit the group's).
	tmpl := cmd.UsageTemplate()
	for _, sub := range cmd.Commands() {
		sub.SetUsageTemplate(sub.UsageTemplate())
	}
	cmd.SetUsageTemplate(strings.Replace(tmpl, "{{if .Runnable}}\n  {{.UseLine}}{{end}}", "", 1))
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q (commands: %s)", args[0], c.CommandPath(), names(c))
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf("; did you mean %q?", s[0])
		}
		return usagef("%s", msg)
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		return usagef("%s: missing subcommand (%s); see '%s --help'", c.CommandPath(), names(c), c.CommandPath())
	}
}

// enforceUsage walks the tree: every argument validator returns usage
// errors, every command with subcommands and no action of its own is a group
// (asGroup), and `help` refuses an unknown topic.
func enforceUsage(cmd *cobra.Command) {
	switch {
	case cmd.Name() == "help" && cmd.HasParent():
		cmd.Args = func(c *cobra.Command, args []string) error {
			if found, rest, err := c.Root().Find(args); err != nil || len(rest) > 0 || found == nil {
				return usagef("unknown help topic %q (see '%s --help')", strings.Join(args, " "), c.Root().Name())
			}
			return nil
		}
	case cmd.HasSubCommands() && !cmd.Runnable():
		asGroup(cmd)
	case cmd.Args != nil:
		cmd.Args = usageArgs(cmd.Args)
	}
	for _, sub := range cmd.Commands() {
		enforceUsage(sub)
	}
}

// New builds a fresh attest-build command tree; it holds no global state.
func New() *cobra.Command {
	root := &cobra.Command{
		Use:   "attest-build [flags] -- COMMAND [ARG...]",
		Short: "Hardware-rooted build provenance: TPM quotes and IMA evidence bound to your artifacts",
		Long: `attest-build runs a build command, takes TPM 2.0 quotes before and after it
(the last one's nonce is the artifact's digest), captures the Linux IMA
measurements made during the build, and writes a signed in-toto attestation
(DSSE, one envelope per line) beside the artifact. Consumers check it with
'attest-build verify' against a policy before deploy.

Exit status: 0 on success; 1 when something fails (a malformed input, a
failed check, a TPM error); 2 for usage errors and input files that cannot be
read; a failed build's own status; 128+N when the build was stopped by
signal N.`,
		Example: `  attest-build key generate --out signing
  attest-build -k signing.key -a 'dist/**/*.tar.gz' -- make dist
  attest-build -k signing.key --tpm swtpm:/run/swtpm/sock -- go build -o app .`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Cobra checks required flags and flag groups after this hook and
		// returns plain errors; checked here first, they are usage errors.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := cmd.ValidateRequiredFlags(); err != nil {
				return &usageError{err: err}
			}
			if err := cmd.ValidateFlagGroups(); err != nil {
				return &usageError{err: err}
			}
			return nil
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err: err} })
	root.AddCommand(newIMACommand())
	root.AddCommand(newTPMCmd(), newCACmd())
	root.AddCommand(newVerifyCommand(), newPolicyCommand())
	attachBuild(root)
	root.AddCommand(newKeyCommand(), newBaselineCommand())
	root.AddCommand(newInspectCmd())
	addVersion(root)
	root.SuggestionsMinimumDistance = 2
	// Cobra adds these when it runs; added now, enforceUsage reaches them.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	writeCompletionToOut(root)
	completeEnums(root)
	exampleCompletion(root)
	enforceUsage(root)
	return root
}

// exampleCompletion gives cobra's completion command examples.
func exampleCompletion(root *cobra.Command) {
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Example = `  # bash, this shell only
  source <(attest-build completion bash)
  # bash, every new shell (Debian's bash-completion)
  attest-build completion bash > /etc/bash_completion.d/attest-build
  # zsh
  attest-build completion zsh > "${fpath[1]}/_attest-build"
  # fish
  attest-build completion fish > ~/.config/fish/completions/attest-build.fish`
		}
	}
}

// writeCompletionToOut makes cobra's completion commands write to the
// command's output as it is when they run: cobra's own capture the output
// of the moment they are made, here before SetOut.
func writeCompletionToOut(root *cobra.Command) {
	gen := map[string]func(root *cobra.Command, w io.Writer, desc bool) error{
		"bash": func(r *cobra.Command, w io.Writer, desc bool) error { return r.GenBashCompletionV2(w, desc) },
		"zsh": func(r *cobra.Command, w io.Writer, desc bool) error {
			if desc {
				return r.GenZshCompletion(w)
			}
			return r.GenZshCompletionNoDesc(w)
		},
		"fish": func(r *cobra.Command, w io.Writer, desc bool) error { return r.GenFishCompletion(w, desc) },
		"powershell": func(r *cobra.Command, w io.Writer, desc bool) error {
			if desc {
				return r.GenPowerShellCompletionWithDesc(w)
			}
			return r.GenPowerShellCompletion(w)
		},
	}
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		for _, sh := range c.Commands() {
			g, ok := gen[sh.Name()]
			if !ok {
				continue
			}
			sh.RunE = func(cmd *cobra.Command, _ []string) error {
				noDesc, _ := cmd.Flags().GetBool("no-descriptions")
				return g(cmd.Root(), cmd.OutOrStdout(), !noDesc && !cmd.Root().CompletionOptions.DisableDescriptions)
			}
		}
	}
}
