package attestca

import (
	"bytes"
	"context"
	"crypto/x509"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attest-build/attest-build/ekcert"
)

// serve runs the enrollment service on 127.0.0.1 for the test.
func serve(t *testing.T, ca *CA, trust *ekcert.Trust) (url string, log *syncBuffer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ca.ServerTLS([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	log = &syncBuffer{}
	srv := NewServer(Handler(ca, trust, log), cfg)
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return "https://" + ln.Addr().String(), log
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestEnrollOverHTTP(t *testing.T) {
	r := startRunner(t)
	ca, err := Init(t.TempDir(), InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	url, log := serve(t, ca, trustOf(t, ekcert.ClassSoftware, r.sw.EKRoots()))
	der, err := NewClient(url, ca.Certificate()).Enroll(context.Background(), r.t, r.ak)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyAKCertificate(cert, AKCertOptions{Roots: caPool(ca), AK: r.ak.PublicKey, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "issued AK certificate serial="+cert.SerialNumber.Text(16)) {
		t.Errorf("no audit line for the issued certificate in the service log:\n%s", log)
	}

	// A client that does not trust the CA does not talk to the service.
	if _, err := NewClient(url, nil).Enroll(context.Background(), r.t, r.ak); err == nil {
		t.Error("enrolled over TLS without trusting the CA's certificate")
	}
	// Another TPM whose EK the CA does not trust is refused with 403.
	other := startRunner(t)
	_, err = NewClient(url, ca.Certificate()).Enroll(context.Background(), other.t, other.ak)
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("untrusted EK over HTTP: %v, want 403", err)
	}
}

func TestServerBoundsRequests(t *testing.T) {
	ca, err := Init(t.TempDir(), InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	url, _ := serve(t, ca, ekcert.NewTrust())
	c := NewClient(url, ca.Certificate())
	big := bytes.Repeat([]byte(" "), MaxMessageSize+10)
	rsp, err := c.HTTP.Post(url+PathChallenge, "application/json", bytes.NewReader(append(big, '{', '}')))
	if err != nil {
		t.Fatal(err)
	}
	rsp.Body.Close()
	if rsp.StatusCode != http.StatusBadRequest {
		t.Errorf("oversized request: %s, want 400", rsp.Status)
	}
	rsp, err = c.HTTP.Get(url + PathChallenge)
	if err != nil {
		t.Fatal(err)
	}
	rsp.Body.Close()
	if rsp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %s, want 405", rsp.Status)
	}
	// A replayed (or invented) response is refused.
	_, err = c.post(context.Background(), PathIssue, &Response{Version: Version, ID: strings.Repeat("ab", 16), Credential: []byte{1}})
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("unknown challenge: %v, want 403", err)
	}
}
