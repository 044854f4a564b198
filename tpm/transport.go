package tpm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// Bounds of the transient-response retry loop.
const (
	maxTransientRetries = 10
	firstRetryDelay     = time.Millisecond
	maxRetryDelay       = 200 * time.Millisecond
)

// retryTransport resends a command while the TPM answers with a transient
// warning (TPM_RC_RETRY, TPM_RC_YIELDED, TPM_RC_TESTING), at most
// maxTransientRetries times with exponential backoff.
type retryTransport struct {
	next  transport.TPM
	sleep func(time.Duration) // nil: time.Sleep
}

func isTransient(rc tpm2.TPMRC) bool {
	return rc == tpm2.TPMRCRetry || rc == tpm2.TPMRCYielded || rc == tpm2.TPMRCTesting
}

// Send implements transport.TPM.
func (r *retryTransport) Send(cmd []byte) ([]byte, error) {
	delay := firstRetryDelay
	for attempt := 0; ; attempt++ {
		rsp, err := r.next.Send(cmd)
		if err != nil {
			return nil, err
		}
		if len(rsp) < 10 {
			return rsp, nil // go-tpm reports the short response
		}
		rc := tpm2.TPMRC(binary.BigEndian.Uint32(rsp[6:10]))
		if !isTransient(rc) || attempt == maxTransientRetries {
			return rsp, nil
		}
		if r.sleep != nil {
			r.sleep(delay)
		} else {
			time.Sleep(delay)
		}
		delay = min(2*delay, maxRetryDelay)
	}
}

// maxResponse bounds a response read from a socket: TPM responses are at
// most a few KiB (MAX_RESPONSE_SIZE is 4096 on most TPMs).
const maxResponse = 1 << 16

// Deadlines of every TPM transport but the in-process simulator: connecting
// to a socket, and waiting for one command's response (a slow hardware TPM
// takes seconds to create an RSA key; none takes minutes).
const (
	ConnectTimeout  = 5 * time.Second
	ResponseTimeout = 2 * time.Minute
)

// ErrTimeout is returned when a TPM does not answer within ResponseTimeout.
var ErrTimeout = errors.New("the TPM did not answer in time")

// ErrNotTPMSocket is returned when a socket answers, but not as a TPM 2.0
// command channel does: swtpm's control channel (--ctrl), for one.
var ErrNotTPMSocket = errors.New("not a TPM 2.0 command socket")

// socketTransport sends each command over a fresh connection to swtpm's TPM
// unix socket, and reads exactly the response size the header announces.
// swtpm serves one client at a time; connecting per command leaves the socket
// free for other clients (tpm2-tools, a VM) between commands. When ctx is
// done the connection is closed, ending any wait at once.
type socketTransport struct {
	ctx  context.Context
	path string
}

// Send implements transport.TPM.
func (s *socketTransport) Send(cmd []byte) ([]byte, error) {
	ctx := s.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	d := net.Dialer{Timeout: ConnectTimeout}
	conn, err := d.DialContext(ctx, "unix", s.path)
	if err != nil {
		return nil, s.wrap(ctx, "connecting", err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := conn.SetDeadline(time.Now().Add(ResponseTimeout)); err != nil {
		return nil, s.wrap(ctx, "", err)
	}
	if _, err := conn.Write(cmd); err != nil {
		return nil, s.wrap(ctx, "sending command", err)
	}
	// The tag first: swtpm's control channel answers a TPM command with a
	// 4-byte result code and waits for more; a TPM 2.0 response begins with
	// tag 0x8001 or 0x8002.
	hdr := make([]byte, 10)
	if _, err := io.ReadFull(conn, hdr[:2]); err != nil {
		return nil, s.wrap(ctx, "reading response header", err)
	}
	if tag := binary.BigEndian.Uint16(hdr[:2]); tag != uint16(tpm2.TPMSTNoSessions) && tag != uint16(tpm2.TPMSTSessions) {
		return nil, fmt.Errorf("swtpm %s: %w: the response begins %#04x, as swtpm's control channel (--ctrl) answers; give swtpm's TPM socket, the one of 'swtpm socket --server type=unixio,path=PATH': --tpm swtpm:PATH",
			s.path, ErrNotTPMSocket, tag)
	}
	if _, err := io.ReadFull(conn, hdr[2:]); err != nil {
		return nil, s.wrap(ctx, "reading response header", err)
	}
	size := binary.BigEndian.Uint32(hdr[2:6])
	if size < 10 || size > maxResponse {
		return nil, fmt.Errorf("swtpm %s: response size %d out of range [10, %d]", s.path, size, maxResponse)
	}
	rsp := make([]byte, size)
	copy(rsp, hdr)
	if _, err := io.ReadFull(conn, rsp[10:]); err != nil {
		return nil, s.wrap(ctx, fmt.Sprintf("reading %d-byte response", size), err)
	}
	return rsp, nil
}

// wrap names what failed: ctx's error when it is done (the connection was
// closed for it), ErrTimeout for a deadline.
func (s *socketTransport) wrap(ctx context.Context, doing string, err error) error {
	if doing != "" {
		doing += ": "
	}
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("swtpm %s: %s%w", s.path, doing, context.Cause(ctx))
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("swtpm %s: %s%w (%v): is another client holding it?", s.path, doing, ErrTimeout, err)
	}
	return fmt.Errorf("swtpm %s: %s%w", s.path, doing, err)
}

// waitTransport bounds a blocking transport (a TPM device): each command
// waits at most ResponseTimeout, and not at all once ctx is done. The
// abandoned read ends when the TPM answers; the caller closes the TPM.
type waitTransport struct {
	ctx     context.Context
	next    transport.TPM
	timeout time.Duration
}

// Send implements transport.TPM.
func (w *waitTransport) Send(cmd []byte) ([]byte, error) {
	if err := w.ctx.Err(); err != nil {
		return nil, fmt.Errorf("TPM command not sent: %w", context.Cause(w.ctx))
	}
	type result struct {
		rsp []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		rsp, err := w.next.Send(cmd)
		done <- result{rsp, err}
	}()
	timer := time.NewTimer(w.timeout)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.rsp, r.err
	case <-w.ctx.Done():
		return nil, fmt.Errorf("waiting for the TPM: %w", context.Cause(w.ctx))
	case <-timer.C:
		return nil, fmt.Errorf("%w: no response within %v", ErrTimeout, w.timeout)
	}
}
