// Command attest-build runs a build and emits a signed in-toto attestation
// that binds TPM 2.0 quotes and the Linux IMA measurement log to the
// artifacts it produced, and verifies such attestations before deploy.
//
// The command tree is built by New; this file only maps errors to exit
// statuses: 0 success, 1 failure (bad input, failed check), 2 usage, and a
// wrapped build's own status where the build failed.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run runs the command line args with the given standard streams and returns
// the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGPIPE)
	defer stop()
	cmd := New()
	if args == nil {
		args = []string{} // nil would make cobra read os.Args
	}
	cmd.SetArgs(args)
	cmd.SetIn(stdin)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var se *signalError
	if errors.As(err, &se) {
		fmt.Fprintf(stderr, "attest-build: %v\n", err)
		return 128 + int(se.sig)
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "attest-build: %v\n", ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "attest-build: %v\n", err)
	if isUsage(err) {
		return 2
	}
	return 1
}
