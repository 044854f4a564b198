package tpm

import (
	"encoding/binary"
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

// socketTransport sends each command over a fresh connection to swtpm's TPM
// unix socket, and reads exactly the response size the header announces.
// swtpm serves one client at a time; connecting per command leaves the socket
// free for other clients (tpm2-tools, a VM) between commands.
type socketTransport struct {
	path string
}

// Send implements transport.TPM.
func (s *socketTransport) Send(cmd []byte) ([]byte, error) {
	conn, err := net.DialTimeout("unix", s.path, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("swtpm %s: %w", s.path, err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(2 * time.Minute)); err != nil {
		return nil, fmt.Errorf("swtpm %s: %w", s.path, err)
	}
	if _, err := conn.Write(cmd); err != nil {
		return nil, fmt.Errorf("swtpm %s: sending command: %w", s.path, err)
	}
	hdr := make([]byte, 10)
	if _, err := io.ReadFull(conn, hdr); err != nil {
		return nil, fmt.Errorf("swtpm %s: reading response header: %w", s.path, err)
	}
	size := binary.BigEndian.Uint32(hdr[2:6])
	if size < 10 || size > maxResponse {
		return nil, fmt.Errorf("swtpm %s: response size %d out of range [10, %d]", s.path, size, maxResponse)
	}
	rsp := make([]byte, size)
	copy(rsp, hdr)
	if _, err := io.ReadFull(conn, rsp[10:]); err != nil {
		return nil, fmt.Errorf("swtpm %s: reading %d-byte response: %w", s.path, size, err)
	}
	return rsp, nil
}
