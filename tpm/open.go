package tpm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
)

// Mode says what kind of TPM a *TPM talks to.
type Mode string

// Modes of an opened TPM.
const (
	ModeDevice Mode = "device" // a kernel TPM device (/dev/tpmrm0, /dev/tpm0, ...)
	ModeSwtpm  Mode = "swtpm"  // swtpm's TPM unix socket
	ModeSim    Mode = "sim"    // go-tpm-tools' in-process simulator
)

// Reference forms accepted by Open.
const (
	RefAuto        = "auto"   // /dev/tpmrm0, then /dev/tpm0
	RefSim         = "sim"    // the in-process simulator
	RefSwtpmPrefix = "swtpm:" // swtpm:PATH, swtpm's unix socket
)

// Devices tried, in order, by Open("auto").
var autoDevices = []string{"/dev/tpmrm0", "/dev/tpm0"}

// ErrNoTPM is returned by Open("auto") when no TPM device exists.
var ErrNoTPM = errors.New("no TPM device found")

// TPM is an open TPM. It is not safe for concurrent use.
type TPM struct {
	mode  Mode
	ref   string
	t     transport.TPM
	close func() error
}

// Open opens the TPM named by ref:
//
//   - "auto" (or ""): /dev/tpmrm0, then /dev/tpm0; an error wrapping ErrNoTPM
//     when neither exists;
//   - a device path, such as /dev/tpmrm0;
//   - "swtpm:PATH": swtpm's TPM unix socket (swtpm socket --tpm2 --server
//     type=unixio,path=PATH); one connection per command, so other clients
//     of the same swtpm are not blocked between commands;
//   - "sim": go-tpm-tools' in-process simulator with a fixed seed, so its
//     primary keys are the same in every run. Only one simulator can be open
//     in a process at a time (a second Open("sim") waits for the first
//     Close). Binaries built without the "simulator" tag or without cgo
//     return ErrSimulatorUnavailable.
//
// The caller must Close the TPM.
func Open(ref string) (*TPM, error) {
	return OpenContext(context.Background(), ref)
}

// OpenContext is Open with a context that bounds every wait for the TPM:
// once ctx is done (on SIGINT, say) a command waiting for its response
// returns at once with an error wrapping context.Cause(ctx). Every transport
// but the in-process simulator also has deadlines: ConnectTimeout to
// connect to a socket, ResponseTimeout for each response.
func OpenContext(ctx context.Context, ref string) (*TPM, error) {
	var (
		t   *TPM
		err error
	)
	switch {
	case ref == "" || ref == RefAuto:
		t, err = openAuto()
	case ref == RefSim:
		t, err = openSim()
	case strings.HasPrefix(ref, RefSwtpmPrefix):
		path := strings.TrimPrefix(ref, RefSwtpmPrefix)
		if path == "" {
			return nil, fmt.Errorf("opening TPM %q: swtpm: needs a socket path (swtpm:PATH)", ref)
		}
		t, err = openSwtpm(ctx, path)
	default:
		t, err = openDevice(ref)
	}
	if err == nil && t.mode == ModeDevice {
		t.t = &waitTransport{ctx: ctx, next: t.t, timeout: ResponseTimeout}
	}
	if err != nil {
		return nil, err
	}
	t.ref = ref
	t.t = &retryTransport{next: t.t}
	return t, nil
}

func openAuto() (*TPM, error) {
	for _, d := range autoDevices {
		if _, err := os.Stat(d); err == nil {
			return openDevice(d)
		}
	}
	return nil, fmt.Errorf("opening TPM: %w: neither %s exists (use --tpm sim for the in-process simulator, or --tpm swtpm:PATH)",
		ErrNoTPM, strings.Join(autoDevices, " nor "))
}

func openDevice(path string) (*TPM, error) {
	c, err := linuxtpm.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening TPM device %s: %w", path, err)
	}
	return &TPM{mode: ModeDevice, t: c, close: c.Close}, nil
}

func openSwtpm(ctx context.Context, path string) (*TPM, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("opening swtpm socket: %w", err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return nil, fmt.Errorf("opening swtpm socket %s: not a unix socket (%s)", path, fi.Mode())
	}
	return &TPM{mode: ModeSwtpm, t: &socketTransport{ctx: ctx, path: path}, close: func() error { return nil }}, nil
}

// Mode reports what kind of TPM this is.
func (t *TPM) Mode() Mode { return t.mode }

// Ref returns the reference the TPM was opened with.
func (t *TPM) Ref() string { return t.ref }

// Transport returns the TPM's transport (with transient-response retries),
// for commands this package does not wrap.
func (t *TPM) Transport() transport.TPM { return t.t }

// Close releases the TPM. Transient objects this package loads are flushed
// after each use, so nothing is left behind in the TPM.
func (t *TPM) Close() error {
	if t.close == nil {
		return nil
	}
	c := t.close
	t.close = nil
	if err := c(); err != nil {
		return fmt.Errorf("closing TPM %s: %w", t.ref, err)
	}
	return nil
}
