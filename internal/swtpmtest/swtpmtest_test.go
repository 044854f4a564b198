package swtpmtest

import (
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
)

// TestStartStop: swtpm answers on its socket while the test runs, and is
// gone (or a zombie awaiting init) with its folder removed after cleanup.
func TestStartStop(t *testing.T) {
	var s *SWTPM
	t.Run("run", func(t *testing.T) {
		s = Start(t)
		c, err := net.Dial("unix", s.Socket)
		if err != nil {
			t.Fatalf("dialing swtpm: %v", err)
		}
		c.Close()
	})
	if s == nil {
		return
	}
	p, _ := os.FindProcess(s.PID)
	if err := p.Signal(syscall.Signal(0)); err == nil && !zombie(s.PID) {
		t.Errorf("swtpm pid %d still running after cleanup", s.PID)
	} else if err != nil && !errors.Is(err, os.ErrProcessDone) && !errors.Is(err, syscall.ESRCH) {
		t.Errorf("checking swtpm pid %d: %v", s.PID, err)
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("swtpm folder %s left behind: %v", s.Dir, err)
	}
}
