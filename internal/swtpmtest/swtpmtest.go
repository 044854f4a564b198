// Package swtpmtest starts a real swtpm (libtpms, the TPM 2.0 behind QEMU's
// vTPM) for tests in any package, and stops it when the test ends.
//
// Each Start manufactures a fresh TPM state in a temporary folder with
// swtpm_setup (sha1 and sha256 PCR banks, an RSA and an ECC endorsement key
// with EK certificates issued by swtpm-localca from a CA made in the same
// folder; EKRoots holds its certificates), then runs `swtpm socket` as a daemon on a temporary unix socket.
// Nothing outside the test's temporary folder is read or written
// (XDG_CONFIG_HOME and swtpm-localca's state point into it), and the process
// is killed in t.Cleanup. When swtpm or swtpm_setup is missing the test is
// skipped, or fails under CI (internal/realtest).
package swtpmtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/attest-build/attest-build/internal/realtest"
)

// SWTPM is a running swtpm.
type SWTPM struct {
	Dir    string // temporary folder holding state, configuration, CA and socket
	Socket string // the TPM command socket (absolute path)
	Ctrl   string // the control socket
	PID    int
}

// Ref returns the reference tpm.Open takes for this swtpm: "swtpm:SOCKET".
func (s *SWTPM) Ref() string { return "swtpm:" + s.Socket }

// TCTI returns the tpm2-tools -T argument reaching this swtpm.
func (s *SWTPM) TCTI() string { return "swtpm:path=" + s.Socket }

// Start manufactures a TPM and starts swtpm for the test; it is stopped in
// t.Cleanup.
func Start(t testing.TB) *SWTPM {
	t.Helper()
	swtpm := realtest.LookPath(t, "swtpm", "swtpm")
	setup := realtest.LookPath(t, "swtpm_setup", "swtpm-tools")
	localca := realtest.LookPath(t, "swtpm_localca", "swtpm-tools")

	// Unix socket paths are limited to 108 bytes: keep the folder short.
	dir, err := os.MkdirTemp("", "swtpm")
	if err != nil {
		t.Fatalf("swtpmtest: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if dir, err = filepath.Abs(dir); err != nil {
		t.Fatalf("swtpmtest: %v", err)
	}
	s := &SWTPM{Dir: dir, Socket: filepath.Join(dir, "sock"), Ctrl: filepath.Join(dir, "sock.ctrl")}
	state := filepath.Join(dir, "state")
	ca := filepath.Join(dir, "ca")
	xdg := filepath.Join(dir, "xdg")
	for _, d := range []string{state, ca, xdg} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatalf("swtpmtest: %v", err)
		}
	}
	files := map[string]string{
		"setup.conf": fmt.Sprintf("create_certs_tool = %s\ncreate_certs_tool_config = %s\ncreate_certs_tool_options = %s\nactive_pcr_banks = sha1,sha256\n",
			localca, filepath.Join(dir, "localca.conf"), filepath.Join(dir, "localca.options")),
		"localca.conf": fmt.Sprintf("statedir = %s\nsigningkey = %s\nissuercert = %s\ncertserial = %s\n",
			ca, filepath.Join(ca, "signkey.pem"), filepath.Join(ca, "issuercert.pem"), filepath.Join(ca, "certserial")),
		"localca.options": "--platform-manufacturer attest-build\n--platform-version 2.1\n--platform-model swtpm\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatalf("swtpmtest: %v", err)
		}
	}
	env := append(os.Environ(), "XDG_CONFIG_HOME="+xdg)
	run(t, env, setup, "--tpm2", "--tpmstate", state, "--pcr-banks", "sha1,sha256",
		"--createek", "--create-ek-cert", "--create-platform-cert",
		"--config", filepath.Join(dir, "setup.conf"), "--overwrite")

	if err := os.Mkdir(s.EKRoots(), 0o755); err != nil {
		t.Fatalf("swtpmtest: %v", err)
	}
	for _, name := range []string{"swtpm-localca-rootca-cert.pem", "issuercert.pem"} {
		b, err := os.ReadFile(filepath.Join(ca, name))
		if err == nil {
			err = os.WriteFile(filepath.Join(s.EKRoots(), name), b, 0o644)
		}
		if err != nil {
			t.Fatalf("swtpmtest: copying the local CA's certificates: %v", err)
		}
	}

	pidFile := filepath.Join(dir, "pid")
	run(t, env, swtpm, "socket", "--tpm2", "--tpmstate", "dir="+state,
		"--server", "type=unixio,path="+s.Socket, "--ctrl", "type=unixio,path="+s.Ctrl,
		"--flags", "not-need-init,startup-clear", "--daemon", "--pid", "file="+pidFile)
	pid, err := readPID(pidFile)
	if err != nil {
		t.Fatalf("swtpmtest: swtpm started, but its pid file: %v", err)
	}
	s.PID = pid
	t.Cleanup(func() { s.stop(t) })
	if err := waitSocket(s.Socket, 10*time.Second); err != nil {
		t.Fatalf("swtpmtest: %v", err)
	}
	return s
}

func run(t testing.TB, env []string, prog string, args ...string) {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("swtpmtest: %s %s: %v\n%s", prog, strings.Join(args, " "), err, out.String())
	}
}

func readPID(path string) (int, error) {
	// The daemon writes its pid file before it forks away; allow a moment.
	var lastErr error
	for range 100 {
		b, err := os.ReadFile(path)
		if err == nil {
			pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
			if perr == nil && pid > 0 {
				return pid, nil
			}
			err = fmt.Errorf("%s holds %q", path, b)
		}
		lastErr = err
		time.Sleep(20 * time.Millisecond)
	}
	return 0, lastErr
}

func waitSocket(path string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		fi, err := os.Stat(path)
		if err == nil && fi.Mode()&os.ModeSocket != 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("swtpm socket %s did not appear within %v", path, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop kills swtpm by its pid and waits until it is gone.
func (s *SWTPM) stop(t testing.TB) {
	p, err := os.FindProcess(s.PID)
	if err != nil {
		return
	}
	_ = p.Signal(syscall.SIGTERM)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if err := p.Signal(syscall.Signal(0)); errors.Is(err, os.ErrProcessDone) || errors.Is(err, syscall.ESRCH) || zombie(s.PID) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = p.Signal(syscall.SIGKILL)
	t.Logf("swtpmtest: swtpm (pid %d) ignored SIGTERM for 5s; killed", s.PID)
}

// zombie reports whether pid has exited and waits only for its parent (the
// daemon's parent is init, which reaps it in its own time).
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) STATE ...; comm can hold spaces, so look after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// EKRoots returns a folder holding only swtpm-localca's certificates (its
// root and the issuer of this TPM's EK certificates): the "manufacturer" of
// the TPMs swtpmtest starts, for EK chain checks. Every Start has its own CA.
func (s *SWTPM) EKRoots() string { return filepath.Join(s.Dir, "ek-roots") }
