package tpm

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/attest-build/attest-build/internal/realtest"
)

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plain")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"swtpm:", "swtpm:" + filepath.Join(dir, "missing"), "swtpm:" + file, file, filepath.Join(dir, "missing")} {
		if tp, err := Open(ref); err == nil {
			tp.Close()
			t.Errorf("Open(%q) succeeded, want an error", ref)
		}
	}
	old := autoDevices
	t.Cleanup(func() { autoDevices = old })
	autoDevices = []string{filepath.Join(dir, "tpmrm0"), filepath.Join(dir, "tpm0")}
	if _, err := Open(RefAuto); !errors.Is(err, ErrNoTPM) {
		t.Errorf("Open(auto) with no device: %v, want ErrNoTPM", err)
	}
}

// scripted answers each command with the next response code in rcs.
type scripted struct {
	rcs   []tpm2.TPMRC
	calls int
}

func (s *scripted) Send([]byte) ([]byte, error) {
	rc := s.rcs[min(s.calls, len(s.rcs)-1)]
	s.calls++
	rsp := make([]byte, 10)
	binary.BigEndian.PutUint16(rsp, 0x8001)
	binary.BigEndian.PutUint32(rsp[2:], 10)
	binary.BigEndian.PutUint32(rsp[6:], uint32(rc))
	return rsp, nil
}

func TestRetryTransport(t *testing.T) {
	var slept []time.Duration
	sleep := func(d time.Duration) { slept = append(slept, d) }
	for _, c := range []struct {
		name      string
		rcs       []tpm2.TPMRC
		wantCalls int
		wantRC    tpm2.TPMRC
	}{
		{"success", []tpm2.TPMRC{tpm2.TPMRCSuccess}, 1, tpm2.TPMRCSuccess},
		{"retry then success", []tpm2.TPMRC{tpm2.TPMRCRetry, tpm2.TPMRCYielded, tpm2.TPMRCTesting, tpm2.TPMRCSuccess}, 4, tpm2.TPMRCSuccess},
		{"error not retried", []tpm2.TPMRC{tpm2.TPMRCFailure, tpm2.TPMRCSuccess}, 1, tpm2.TPMRCFailure},
		{"bounded", []tpm2.TPMRC{tpm2.TPMRCRetry}, maxTransientRetries + 1, tpm2.TPMRCRetry},
	} {
		slept = nil
		s := &scripted{rcs: c.rcs}
		rsp, err := (&retryTransport{next: s, sleep: sleep}).Send([]byte{0})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if s.calls != c.wantCalls || tpm2.TPMRC(binary.BigEndian.Uint32(rsp[6:])) != c.wantRC || len(slept) != c.wantCalls-1 {
			t.Errorf("%s: %d calls, rc 0x%x, %d sleeps; want %d calls, rc 0x%x", c.name, s.calls, binary.BigEndian.Uint32(rsp[6:]), len(slept), c.wantCalls, uint32(c.wantRC))
		}
		for _, d := range slept {
			if d > maxRetryDelay {
				t.Errorf("%s: slept %v, more than %v", c.name, d, maxRetryDelay)
			}
		}
	}
}

func TestEnsureAKRefusesForeignKeyAndBadHandles(t *testing.T) {
	tp := openSimT(t)
	if _, err := tp.EnsureAK(AKOptions{Alg: AKRSA2048, Handle: 0x81008A20}); err != nil {
		t.Fatal(err)
	}
	// An ECC AK asked for at the handle holding the RSA one: refused, and
	// the RSA key is still there.
	if ak, err := tp.EnsureAK(AKOptions{Alg: AKECCP256, Handle: 0x81008A20}); err == nil {
		t.Fatalf("EnsureAK over an RSA key returned %+v", ak)
	}
	if _, err := tp.EnsureAK(AKOptions{Alg: AKRSA2048, Handle: 0x81008A20}); err != nil {
		t.Fatalf("RSA AK gone after refused overwrite: %v", err)
	}
	for _, h := range []uint32{0x81000001, 0x81010001, 0x81800000, 0x01c00002} {
		if _, err := tp.EnsureAK(AKOptions{Handle: h}); err == nil {
			t.Errorf("EnsureAK at 0x%08x succeeded, want an error", h)
		}
	}
	if _, err := tp.EnsureAK(AKOptions{Alg: "dsa"}); err == nil {
		t.Error("EnsureAK with alg dsa succeeded")
	}
	ak, err := tp.EnsureAK(AKOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tp.Quote(ak, PCRSelection{{"sha256", []int{0}}}, make([]byte, MaxNonceSize+1)); err == nil {
		t.Error("Quote with a 33-byte nonce succeeded")
	}
	if _, err := tp.Quote(ak, nil, nil); err == nil {
		t.Error("Quote with an empty selection succeeded")
	}
}

// TestSimulatorKeysStable: the fixed seed gives the same AK in every run.
func TestSimulatorKeysStable(t *testing.T) {
	fp := func() string {
		tp, err := Open(RefSim)
		if errors.Is(err, ErrSimulatorUnavailable) {
			realtest.Missing(t, "TPM simulator", "run the tests with cgo and -tags simulator")
		}
		if err != nil {
			t.Fatal(err)
		}
		defer tp.Close()
		ak, err := tp.EnsureAK(AKOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return ak.Fingerprint()
	}
	if a, b := fp(), fp(); a != b {
		t.Fatalf("simulator AK changed between opens: %s vs %s", a, b)
	}
}
