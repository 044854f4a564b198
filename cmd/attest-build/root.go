package main

import (
	"errors"
	"fmt"
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

// usageError marks a command-line mistake (exit status 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error {
	return &usageError{err: fmt.Errorf(format, a...)}
}

// isUsage reports whether err is a usage error: ours, or one of cobra's
// flag and argument errors.
func isUsage(err error) bool {
	var ue *usageError
	if errors.As(err, &ue) {
		return true
	}
	msg := err.Error()
	for _, p := range []string{"unknown flag", "unknown shorthand flag", "unknown command", "flag needs an argument",
		"invalid argument", "accepts ", "requires at least", "requires at most", "required flag", "if any flags in the group"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
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
'attest-build verify' against a policy before deploy.`,
		Example: `  attest-build key generate --out signing
  attest-build -k signing.key -a 'dist/**/*.tar.gz' -- make dist
  attest-build -k signing.key --tpm swtpm:/run/swtpm/sock -- go build -o app .`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err: err} })
	root.AddCommand(newIMACommand())
	root.AddCommand(newTPMCmd())
	root.AddCommand(newVerifyCommand(), newPolicyCommand())
	attachBuild(root)
	root.AddCommand(newKeyCommand())
	root.AddCommand(newInspectCmd())
	return root
}
