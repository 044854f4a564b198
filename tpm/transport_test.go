package tpm

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/internal/swtpmtest"
)

// --tpm swtpm:CTRL, swtpm's control socket, a documented mistake: the first
// command fails at once (the control channel answers 4 bytes and waits)
// naming the control channel and what to give instead.
func TestSwtpmControlSocketRefused(t *testing.T) {
	sw := swtpmtest.Start(t)
	tp, err := Open("swtpm:" + sw.Ctrl)
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	_, err = tp.Info()
	if !errors.Is(err, ErrNotTPMSocket) {
		t.Fatalf("Info on the control socket: %v, want ErrNotTPMSocket", err)
	}
	for _, want := range []string{"control channel (--ctrl)", "--tpm swtpm:PATH", sw.Ctrl} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	// The TPM socket of the same swtpm works.
	good, err := Open(sw.Ref())
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	if _, err := good.Info(); err != nil {
		t.Fatalf("Info on the TPM socket: %v", err)
	}
}

// silentSocket accepts connections and never answers, as a TPM socket held
// by a stuck server would.
func silentSocket(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return path
}

// A wait for a TPM response ends when the context is done (a signal), with
// the context's cause, on a socket and on a blocking device alike.
func TestTPMWaitInterrupted(t *testing.T) {
	interrupted := errors.New("interrupted by SIGINT")
	t.Run("swtpm socket", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		tp, err := OpenContext(ctx, "swtpm:"+silentSocket(t))
		if err != nil {
			t.Fatal(err)
		}
		defer tp.Close()
		errc := make(chan error, 1)
		go func() { _, err := tp.Info(); errc <- err }()
		cancel(interrupted)
		if err := <-errc; !errors.Is(err, interrupted) {
			t.Fatalf("Info after cancel: %v, want the cause %v", err, interrupted)
		}
	})
	t.Run("device", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		block := make(chan struct{})
		defer close(block)
		w := &waitTransport{ctx: ctx, next: blocking(block), timeout: ResponseTimeout}
		errc := make(chan error, 1)
		go func() { _, err := w.Send([]byte{0x80, 0x01}); errc <- err }()
		cancel(interrupted)
		if err := <-errc; !errors.Is(err, interrupted) {
			t.Fatalf("Send after cancel: %v, want the cause %v", err, interrupted)
		}
	})
}

// A device that never answers times out with ErrTimeout.
func TestTPMWaitDeadline(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	w := &waitTransport{ctx: context.Background(), next: blocking(block), timeout: 1}
	if _, err := w.Send([]byte{0x80, 0x01}); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Send to a silent device: %v, want ErrTimeout", err)
	}
}

// blocking is a transport whose Send waits until block is closed.
type blocking chan struct{}

func (b blocking) Send([]byte) ([]byte, error) {
	<-b
	return nil, errors.New("closed")
}
