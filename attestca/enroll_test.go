package attestca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attest-build/attest-build/ekcert"
	"github.com/attest-build/attest-build/internal/swtpmtest"
	"github.com/attest-build/attest-build/tpm"
)

type runner struct {
	sw *swtpmtest.SWTPM
	t  *tpm.TPM
	ak *tpm.AK
}

func startRunner(t *testing.T) *runner {
	t.Helper()
	sw, tp, ak := benchRunner(t)
	return &runner{sw: sw, t: tp, ak: ak}
}

func benchRunner(t testing.TB) (*swtpmtest.SWTPM, *tpm.TPM, *tpm.AK) {
	t.Helper()
	sw := swtpmtest.Start(t)
	tp, err := tpm.Open(sw.Ref())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Close() })
	ak, err := tp.EnsureAK(tpm.AKOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return sw, tp, ak
}

func trustOf(t *testing.T, c ekcert.Class, dirs ...string) *ekcert.Trust {
	t.Helper()
	tr := ekcert.NewTrust()
	for _, d := range dirs {
		if _, err := tr.Load(c, d); err != nil {
			t.Fatal(err)
		}
	}
	return tr
}

// roundTrip passes a message through its JSON form, as the files do.
func roundTrip[T any](t *testing.T, v *T, read func(r *bytes.Reader) (*T, error)) *T {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readReq(r *bytes.Reader) (*Request, error)    { return ReadRequest(r) }
func readChal(r *bytes.Reader) (*Challenge, error) { return ReadChallenge(r) }
func readResp(r *bytes.Reader) (*Response, error)  { return ReadResponse(r) }

func TestEnrollByFiles(t *testing.T) {
	r := startRunner(t)
	ca, err := Init(t.TempDir(), InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, class := range []ekcert.Class{ekcert.ClassSoftware, ekcert.ClassHardware} {
		t.Run(string(class), func(t *testing.T) {
			q, err := NewRequest(r.t, r.ak)
			if err != nil {
				t.Fatal(err)
			}
			q = roundTrip(t, q, readReq)
			c, err := ca.Challenge(q, trustOf(t, class, r.sw.EKRoots()))
			if err != nil {
				t.Fatal(err)
			}
			c = roundTrip(t, c, readChal)
			s, err := Activate(r.t, r.ak, c)
			if err != nil {
				t.Fatal(err)
			}
			s = roundTrip(t, s, readResp)
			der, err := ca.Issue(s)
			if err != nil {
				t.Fatal(err)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			roots := x509.NewCertPool()
			roots.AddCert(ca.Certificate())
			v, err := VerifyAKCertificate(cert, AKCertOptions{Roots: roots, AK: r.ak.PublicKey, At: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			if v.Class != class {
				t.Errorf("class %s, want %s", v.Class, class)
			}
			if v.TPM.Manufacturer != "id:00001014" {
				t.Errorf("TPM manufacturer %q, want swtpm's id:00001014", v.TPM.Manufacturer)
			}
			ek, err := r.t.EK(tpm.EKKind(q.EKKind))
			if err != nil {
				t.Fatal(err)
			}
			if fp, _ := tpm.Fingerprint(ek.PublicKey); v.EKFingerprint != fp {
				t.Errorf("EK fingerprint %s, want %s", v.EKFingerprint, fp)
			}
			if cert.KeyUsage != x509.KeyUsageDigitalSignature || cert.IsCA {
				t.Errorf("key usage %v, CA %t", cert.KeyUsage, cert.IsCA)
			}

			// Replayed: the challenge was consumed.
			if _, err := ca.Issue(s); !errors.Is(err, ErrChallenge) {
				t.Fatalf("replayed response: %v, want ErrChallenge", err)
			}
		})
	}
	audit, err := os.ReadFile(filepath.Join(ca.dir, AuditFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(audit), " issued serial="); n != 2 {
		t.Errorf("audit log has %d issued lines, want 2:\n%s", n, audit)
	}
}

// A challenge made for one TPM cannot be answered by another, nor late.
func TestChallengeRefusals(t *testing.T) {
	r := startRunner(t)
	other := startRunner(t)
	ca, err := Init(t.TempDir(), InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	trust := trustOf(t, ekcert.ClassSoftware, r.sw.EKRoots(), other.sw.EKRoots())
	q, err := NewRequest(r.t, r.ak)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("second TPM answers", func(t *testing.T) {
		c, err := ca.Challenge(q, trust)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Activate(other.t, other.ak, c); err == nil {
			t.Fatal("another TPM activated the credential")
		}
		// Its best guess is refused, and uses up the challenge.
		if _, err := ca.Issue(&Response{Version: Version, ID: c.ID, Credential: bytes.Repeat([]byte{1}, 32)}); !errors.Is(err, ErrChallenge) {
			t.Fatalf("guessed secret: %v, want ErrChallenge", err)
		}
		s, err := Activate(r.t, r.ak, c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ca.Issue(s); !errors.Is(err, ErrChallenge) {
			t.Fatalf("answer after a wrong one: %v, want ErrChallenge", err)
		}
	})
	t.Run("request names another TPM's AK", func(t *testing.T) {
		q2 := *q
		q2.AKPublic = other.ak.Public
		c, err := ca.Challenge(&q2, trust)
		if err != nil {
			t.Fatal(err)
		}
		// The EK's TPM holds no object of that name: it refuses.
		if _, err := Activate(r.t, r.ak, c); err == nil {
			t.Fatal("activated a credential bound to another TPM's AK")
		}
	})
	t.Run("expired", func(t *testing.T) {
		c, err := ca.Challenge(q, trust)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Activate(r.t, r.ak, c)
		if err != nil {
			t.Fatal(err)
		}
		late := *ca
		late.Now = func() time.Time { return time.Now().Add(DefaultChallengeTTL + time.Minute) }
		if _, err := late.Issue(s); !errors.Is(err, ErrChallenge) {
			t.Fatalf("late answer: %v, want ErrChallenge", err)
		}
		// An unanswered challenge is swept once expired.
		c2, err := ca.Challenge(q, trust)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := late.Challenge(q, trust); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(ca.pendingPath(c2.ID)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("expired challenge %s still pending (%v)", c2.ID, err)
		}
	})
	t.Run("EK root not trusted", func(t *testing.T) {
		tr := trustOf(t, ekcert.ClassHardware, "../testdata/ek/roots-keylime")
		if _, err := ca.Challenge(q, tr); !errors.Is(err, ErrRefused) || !errors.Is(err, ekcert.ErrUntrusted) {
			t.Fatalf("untrusted EK: %v, want ErrRefused and ekcert.ErrUntrusted", err)
		}
	})
	t.Run("EK certificate of another TPM", func(t *testing.T) {
		oq, err := NewRequest(other.t, other.ak)
		if err != nil {
			t.Fatal(err)
		}
		q2 := *q
		q2.EKCertificates = oq.EKCertificates
		if _, err := ca.Challenge(&q2, trust); !errors.Is(err, ErrRefused) {
			t.Fatalf("mismatched EK certificate: %v, want ErrRefused", err)
		}
	})
	t.Run("AK not restricted", func(t *testing.T) {
		q2 := *q
		q2.AKPublic = q.EKPublic
		if _, err := ca.Challenge(&q2, trust); !errors.Is(err, ErrRefused) {
			t.Fatalf("EK as AK: %v, want ErrRefused", err)
		}
	})
}

func TestVerifyAKCertificateRefusals(t *testing.T) {
	r := startRunner(t)
	ca, err := Init(t.TempDir(), InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cert, roots := enroll(t, r, ca, trustOf(t, ekcert.ClassSoftware, r.sw.EKRoots()))
	otherCA, err := Init(t.TempDir(), InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	otherRoots := caPool(otherCA)
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := ca.Revoke(cert.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	for name, o := range map[string]AKCertOptions{
		"another CA":      {Roots: otherRoots, AK: r.ak.PublicKey, At: time.Now()},
		"another key":     {Roots: roots, AK: &k.PublicKey, At: time.Now()},
		"expired":         {Roots: roots, AK: r.ak.PublicKey, At: cert.NotAfter.Add(time.Minute)},
		"before validity": {Roots: roots, AK: r.ak.PublicKey, At: cert.NotBefore.Add(-time.Minute)},
		"revoked":         {Roots: roots, AK: r.ak.PublicKey, At: time.Now(), CRLs: []*x509.RevocationList{crl}},
	} {
		t.Run(name, func(t *testing.T) {
			if v, err := VerifyAKCertificate(cert, o); !errors.Is(err, ErrAKCertificate) || v != nil {
				t.Fatalf("got %v, %v; want ErrAKCertificate", v, err)
			}
		})
	}
}

// enroll runs the whole file protocol for r with ca under trust and
// returns the AK certificate and a pool holding only the CA.
func enroll(t *testing.T, r *runner, ca *CA, trust *ekcert.Trust) (*x509.Certificate, *x509.CertPool) {
	t.Helper()
	q, err := NewRequest(r.t, r.ak)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ca.Challenge(q, trust)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Activate(r.t, r.ak, c)
	if err != nil {
		t.Fatal(err)
	}
	der, err := ca.Issue(s)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, caPool(ca)
}

// caPool is a pool holding only ca's certificate.
func caPool(ca *CA) *x509.CertPool {
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	return roots
}
