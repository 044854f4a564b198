package provenance_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/attest-build/attest-build/internal/realtest"
	"github.com/attest-build/attest-build/provenance"
)

// ttyHelperEnv makes the test binary act as attest-build on a terminal for
// TestRunReadsTerminal.
const ttyHelperEnv = "ATTEST_BUILD_TEST_TTY_HELPER"

// A build that reads its terminal gets the line typed (it is put in the
// terminal's foreground instead of being stopped by SIGTTIN), and attest-build
// has the terminal back afterwards. Runs the test binary under script(1),
// which gives it a pseudo-terminal as stdin and controlling terminal.
func TestRunReadsTerminal(t *testing.T) {
	script := realtest.LookPath(t, "script", "util-linux")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, "-qec", os.Args[0]+" -test.run=^TestRunTerminalHelper$", "/dev/null")
	cmd.Env = append(os.Environ(), ttyHelperEnv+"=1")
	cmd.WaitDelay = 2 * time.Second
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(in, "typed-line")
	err = cmd.Wait()
	if ctx.Err() != nil || strings.Contains(out.String(), "exit 137") {
		t.Fatalf("the build reading its terminal hung (stopped by SIGTTIN?):\n%s", out.String())
	}
	if err != nil || !strings.Contains(out.String(), "build read: typed-line") || !strings.Contains(out.String(), "exit 0, foreground restored true") {
		t.Fatalf("script: %v\n%s", err, out.String())
	}
}

// TestRunTerminalHelper is not a test: TestRunReadsTerminal runs it on a
// pseudo-terminal.
func TestRunTerminalHelper(t *testing.T) {
	if os.Getenv(ttyHelperEnv) == "" {
		t.Skip("helper process for TestRunReadsTerminal")
	}
	// A stopped build is killed after 8 s (+5 s), so that the helper
	// never outlives the test.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	res, err := provenance.Run(ctx, provenance.Command{Argv: []string{"sh", "-c", `read line; echo "build read: $line"`}})
	if err != nil {
		t.Fatal(err)
	}
	pgrp, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("exit %d, foreground restored %t\n", res.ExitStatus, pgrp == unix.Getpgrp())
}
