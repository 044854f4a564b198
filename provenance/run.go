package provenance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// forwardedSignals returns the signals attest-build passes on to the build's
// process group while it runs (and that interrupt Attest before and after).
func forwardedSignals() []os.Signal {
	return []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}
}

// Command is the build command and the environment it runs in.
type Command struct {
	// Argv is the command and its arguments; Argv[0] is looked up in PATH.
	Argv []string
	// Dir is the working directory ("" for the current one).
	Dir string
	// Env is the environment (nil for the caller's). Either way the
	// variables that may carry the signing key or its password (KeyEnv,
	// KeyPasswordEnv, the GitHub Action's INPUT_KEY and INPUT_KEY-PASSWORD)
	// are removed before the build starts.
	Env []string
	// Stdin, Stdout and Stderr are the build's standard streams (nil for
	// the caller's own).
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Leftovers says whether processes the build leaves running are only
	// ended (the default) or also make Attest refuse (see LeftoverPolicy).
	// Run ends them either way.
	Leftovers LeftoverPolicy
}

// RunResult is how the build ended.
type RunResult struct {
	// ExitStatus is the build's exit status; 128+N when signal N killed it
	// (the shell's convention).
	ExitStatus int
	// Signal is the first signal forwarded to the build, or nil.
	Signal     os.Signal
	StartedOn  time.Time
	FinishedOn time.Time
	// Ended are the processes of the build still running when its top
	// process exited, which Run ended (SIGKILL) before it returned.
	Ended []EndedProcess
	// Cgroup is the cgroup v2 directory the build ran in ("" when it had
	// none; CgroupNote says why).
	Cgroup     string
	CgroupNote string
}

// Interrupted reports whether a signal was forwarded to the build.
func (r *RunResult) Interrupted() bool { return r.Signal != nil }

// Failed reports whether the build failed or was interrupted: either way it
// gets no attestation.
func (r *RunResult) Failed() bool { return r.ExitStatus != 0 || r.Signal != nil }

// secretEnv names the variables that may hold the signing key or its
// password: attest-build's own and the GitHub Action's inputs (a composite
// action passes them explicitly; a JavaScript or Docker action would get
// INPUT_KEY and INPUT_KEY-PASSWORD from the runner).
var secretEnv = []string{KeyEnv, KeyPasswordEnv, "INPUT_KEY", "INPUT_KEY-PASSWORD", "INPUT_KEY_PASSWORD"}

// buildEnv returns env without the secretEnv variables: a build that can
// read the signing key can sign whatever it likes.
func buildEnv(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(secretEnv, name)
	})
}

// Run runs the command in its own process group with the caller's (or the
// given) stdin, stdout, stderr and environment, less the variables that may
// hold the signing key or its password (see Command.Env), forwards SIGINT,
// SIGTERM and SIGHUP to the whole group while it runs, and waits for it. When
// ctx is done the group gets SIGTERM, then SIGKILL 5 s later. A build that
// cannot be started is an error; a build that fails is not (see
// RunResult.Failed).
//
// Nothing the build starts outlives Run. For the build's lifetime
// attest-build is a child subreaper (PR_SET_CHILD_SUBREAPER), so the build's
// orphans (double forks, setsid daemons) are reparented to it, and where the
// cgroup v2 hierarchy allows, the build runs in a cgroup of its own. When the
// top process exits, every process still in that cgroup, in the build's
// process group, or adopted, and their descendants, is ended with SIGKILL
// and listed in RunResult.Ended; one that cannot be ended (another user's,
// without the privilege and outside a cgroup) is an error. Children the
// caller itself starts while Run runs look like adopted ones and are ended
// too: start none meanwhile.
func Run(ctx context.Context, c Command) (*RunResult, error) {
	if len(c.Argv) == 0 {
		return nil, errors.New("running the build: no command")
	}
	cmd := buildCmd(c)
	if tty, ok := foregroundTerminal(cmd.Stdin); ok {
		// The build's group takes the terminal, as a shell gives it to a
		// foreground job, so the build can read it (a background group
		// that reads its terminal is stopped by SIGTTIN); attest-build
		// takes it back when the build is over.
		cmd.SysProcAttr.Foreground, cmd.SysProcAttr.Ctty = true, tty
		defer takeForeground(tty)
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, forwardedSignals()...)
	defer signal.Stop(sigs)

	reap, err := newReaper()
	if err != nil {
		return nil, err
	}
	defer reap.close()
	if reap.cgroupFD != nil {
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(reap.cgroupFD.Fd())
	}

	res := &RunResult{StartedOn: time.Now().UTC()}
	err = cmd.Start()
	if err != nil && reap.cgroupFD != nil && !errors.Is(err, exec.ErrNotFound) && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, os.ErrPermission) {
		// clone3(CLONE_INTO_CGROUP) refused (an old kernel, a cgroup
		// that cannot take processes): run without the cgroup.
		reap.dropCgroup(err)
		attr := *cmd.SysProcAttr
		attr.UseCgroupFD, attr.CgroupFD = false, 0
		cmd = buildCmd(c)
		cmd.SysProcAttr = &attr
		err = cmd.Start()
	}
	if err != nil {
		return nil, fmt.Errorf("starting the build %q: %w", c.Argv[0], err)
	}
	res.Cgroup, res.CgroupNote = reap.cgroup, reap.cgroupNote
	pgid := cmd.Process.Pid
	// The top process's exit is seen without reaping it (WNOWAIT), so its
	// process group stays while the leftovers are ended; cmd.Wait then
	// reaps it and, with every writer of the build's pipes gone, returns.
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		var info unix.Siginfo
		for {
			err := unix.Waitid(unix.P_PID, pgid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if err != unix.EINTR {
				return
			}
		}
	}()

	var (
		waitErr error
		kill    <-chan time.Time
		ctxDone = ctx.Done()
	)
loop:
	for {
		select {
		case <-exited:
			break loop
		case s := <-sigs:
			if res.Signal == nil {
				res.Signal = s
			}
			_ = syscall.Kill(-pgid, s.(syscall.Signal))
		case <-ctxDone:
			ctxDone = nil
			_ = syscall.Kill(-pgid, syscall.SIGTERM)
			kill = time.After(5 * time.Second)
		case <-kill:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
	}
	res.FinishedOn = time.Now().UTC()
	res.Ended, err = reap.end(pgid)
	waitErr = cmd.Wait()
	if err != nil {
		return nil, err
	}
	var ee *exec.ExitError
	switch {
	case waitErr == nil:
	case errors.As(waitErr, &ee):
		ws, _ := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			res.ExitStatus = 128 + int(ws.Signal())
		} else {
			res.ExitStatus = ws.ExitStatus()
		}
	default:
		return nil, fmt.Errorf("waiting for the build: %w", waitErr)
	}
	if ctx.Err() != nil && res.Signal == nil {
		res.Signal = syscall.SIGTERM
	}
	return res, nil
}

// buildCmd is the build's exec.Cmd: c's command, directory, streams and
// environment less the secrets, in a process group of its own.
func buildCmd(c Command) *exec.Cmd {
	cmd := exec.Command(c.Argv[0], c.Argv[1:]...)
	cmd.Dir = c.Dir
	env := c.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = buildEnv(env)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = or[io.Reader](c.Stdin, os.Stdin), or[io.Writer](c.Stdout, os.Stdout), or[io.Writer](c.Stderr, os.Stderr)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// foregroundTerminal returns stdin's descriptor when stdin is attest-build's
// controlling terminal and attest-build's process group is in its
// foreground. A build in a group of its own must then be put in the
// foreground to read it. When attest-build runs in the background, the
// build stays there too.
func foregroundTerminal(stdin io.Reader) (int, bool) {
	f, ok := stdin.(*os.File)
	if !ok {
		return 0, false
	}
	fd := int(f.Fd())
	// TIOCGPGRP fails (ENOTTY) unless fd is our controlling terminal.
	pgrp, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	if err != nil || pgrp != unix.Getpgrp() {
		return 0, false
	}
	return fd, true
}

// takeForeground makes attest-build's process group the terminal's
// foreground group again. It is then in the background, where tcsetpgrp
// raises SIGTTOU unless that is ignored, as shells do.
func takeForeground(tty int) {
	signal.Ignore(syscall.SIGTTOU)
	defer signal.Reset(syscall.SIGTTOU)
	_ = unix.IoctlSetPointerInt(tty, unix.TIOCSPGRP, unix.Getpgrp())
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
