package attestca

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/attest-build/attest-build/ekcert"
	"github.com/attest-build/attest-build/tpm"
)

// HTTP paths of the enrollment service.
const (
	PathChallenge = "/v1/challenge" // POST Request JSON -> Challenge JSON
	PathIssue     = "/v1/issue"     // POST Response JSON -> AK certificate, PEM
)

// Handler serves enrollment over HTTP: PathChallenge and PathIssue, POST
// only, bodies of at most MaxMessageSize bytes. Refusals are 403 with the
// reason as text; malformed messages 400. Every challenge and every issued
// certificate is a line in the CA's audit log, and a line on log (when not
// nil) naming the client's address.
func Handler(ca *CA, trust *ekcert.Trust, log io.Writer) http.Handler {
	logf := func(r *http.Request, format string, a ...any) {
		if log != nil {
			fmt.Fprintf(log, "%s %s %s\n", time.Now().UTC().Format(time.RFC3339), r.RemoteAddr, fmt.Sprintf(format, a...))
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathChallenge, func(w http.ResponseWriter, r *http.Request) {
		q, err := ReadRequest(http.MaxBytesReader(w, r.Body, MaxMessageSize))
		if err != nil {
			logf(r, "challenge: bad request: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c, err := ca.Challenge(q, trust)
		if err != nil {
			logf(r, "challenge: refused: %v", err)
			http.Error(w, err.Error(), statusOf(err))
			return
		}
		logf(r, "challenge %s", c.ID)
		writeJSON(w, c)
	})
	mux.HandleFunc("POST "+PathIssue, func(w http.ResponseWriter, r *http.Request) {
		s, err := ReadResponse(http.MaxBytesReader(w, r.Body, MaxMessageSize))
		if err != nil {
			logf(r, "issue: bad request: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		der, err := ca.Issue(s)
		if err != nil {
			logf(r, "issue: refused: %v", err)
			http.Error(w, err.Error(), statusOf(err))
			return
		}
		cert, _ := x509.ParseCertificate(der)
		logf(r, "issued AK certificate serial=%s ak=%s ek=%s", cert.SerialNumber.Text(16), akFingerprint(cert), cert.Subject.SerialNumber)
		w.Header().Set("Content-Type", "application/x-pem-file")
		w.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	})
	return mux
}

func statusOf(err error) int {
	if errors.Is(err, ErrRefused) || errors.Is(err, ErrChallenge) {
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// ServerTLS returns a TLS configuration for the enrollment service with a
// server certificate the CA issues itself for hosts (IP addresses or DNS
// names), valid one day: clients trust the CA certificate, nothing else.
func (ca *CA) ServerTLS(hosts []string) (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := ca.now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "attest-build enrollment service"},
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("issuing the service's TLS certificate: %w", err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{{Certificate: [][]byte{der, ca.cert.Raw}, PrivateKey: key}},
	}, nil
}

// NewServer returns an HTTP server for Handler with bounded header size and
// timeouts.
func NewServer(h http.Handler, tlsConfig *tls.Config) *http.Server {
	return &http.Server{
		Handler:           h,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
}

// Client enrolls a runner's AK with an enrollment service.
type Client struct {
	// URL is the service's base URL (https://host:port).
	URL string
	// HTTP is the client (nil: one that trusts only CACert, if set).
	HTTP *http.Client
}

// NewClient returns a client of the service at url that trusts caCert for
// TLS (the CA's own certificate, as ServerTLS uses), or the system roots
// when caCert is nil.
func NewClient(url string, caCert *x509.Certificate) *Client {
	cfg := &tls.Config{MinVersion: tls.VersionTLS13}
	if caCert != nil {
		pool := x509.NewCertPool()
		pool.AddCert(caCert)
		cfg.RootCAs = pool
	}
	return &Client{URL: strings.TrimSuffix(url, "/"), HTTP: &http.Client{
		Timeout:   60 * time.Second,
		Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true},
	}}
}

// Enroll runs the whole protocol for ak on t and returns the AK
// certificate (DER).
func (c *Client) Enroll(ctx context.Context, t *tpm.TPM, ak *tpm.AK) ([]byte, error) {
	q, err := NewRequest(t, ak)
	if err != nil {
		return nil, err
	}
	body, err := c.post(ctx, PathChallenge, q)
	if err != nil {
		return nil, err
	}
	ch, err := ReadChallenge(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	s, err := Activate(t, ak, ch)
	if err != nil {
		return nil, err
	}
	body, err = c.post(ctx, PathIssue, s)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(body)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("enrolling at %s: the answer is not a PEM certificate", c.URL)
	}
	return blk.Bytes, nil
}

func (c *Client) post(ctx context.Context, path string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL+path, bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("enrolling at %s: %w", c.URL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	rsp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("enrolling at %s: %w", c.URL, err)
	}
	defer rsp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(rsp.Body, MaxMessageSize+1))
	if err != nil {
		return nil, fmt.Errorf("enrolling at %s: %w", c.URL, err)
	}
	if len(body) > MaxMessageSize {
		return nil, fmt.Errorf("enrolling at %s%s: answer larger than %d bytes", c.URL, path, MaxMessageSize)
	}
	if rsp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("enrolling at %s%s: %s: %s", c.URL, path, rsp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}
