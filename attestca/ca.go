package attestca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/attest-build/attest-build/ekcert"
	"github.com/attest-build/attest-build/internal/atomicfile"
	"github.com/attest-build/attest-build/tpm"
)

// Files in a CA folder.
const (
	KeyFile     = "ca.key"    // the CA's private key, PEM, mode 0600
	CertFile    = "ca.pem"    // the CA's certificate, PEM: what verifiers trust
	pendingDir  = "pending"   // one file per open challenge, mode 0600
	issuedDir   = "issued"    // every issued AK certificate, by serial
	AuditFile   = "audit.log" // one line per challenge and issued certificate
	secretBytes = 32
)

// Defaults.
const (
	DefaultChallengeTTL = 10 * time.Minute
	DefaultValidity     = 90 * 24 * time.Hour
	caValidity          = 10 * 365 * 24 * time.Hour
)

// Errors a caller may need to tell apart.
var (
	// ErrChallenge reports a response that does not answer an open
	// challenge: unknown or already used, expired, or a wrong secret.
	ErrChallenge = errors.New("challenge not answered")
	// ErrRefused reports an enrollment request the CA refuses (untrusted
	// EK, unsuitable AK).
	ErrRefused = errors.New("enrollment refused")
)

// CA is an attestation CA kept in a folder.
type CA struct {
	dir  string
	key  crypto.Signer
	cert *x509.Certificate
	// ChallengeTTL is how long a challenge stays open; Validity how long an
	// AK certificate is valid. Zero means the default.
	ChallengeTTL time.Duration
	Validity     time.Duration
	// Now is the clock (nil: time.Now), for tests.
	Now func() time.Time
}

// InitOptions choose how Init makes the CA.
type InitOptions struct {
	// Name is the CA certificate's common name (default "attest-build
	// attestation CA").
	Name string
	// KeyPEM and CertPEM import an existing CA key and certificate instead
	// of making new ones; both or neither.
	KeyPEM, CertPEM []byte
}

// Init creates a CA in dir (created if missing; it must not already hold a
// CA): an ECDSA P-256 key and a self-signed certificate valid ten years, or
// an imported key and certificate, which must match.
func Init(dir string, o InitOptions) (*CA, error) {
	if _, err := os.Stat(filepath.Join(dir, KeyFile)); err == nil {
		return nil, fmt.Errorf("creating CA in %s: it already holds %s: %w", dir, KeyFile, fs.ErrExist)
	}
	if err := os.MkdirAll(filepath.Join(dir, pendingDir), 0o700); err != nil {
		return nil, fmt.Errorf("creating CA: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, issuedDir), 0o755); err != nil {
		return nil, fmt.Errorf("creating CA: %w", err)
	}
	var (
		keyPEM, certPEM []byte
		err             error
	)
	switch {
	case (o.KeyPEM == nil) != (o.CertPEM == nil):
		return nil, errors.New("creating CA: importing needs both the key and the certificate")
	case o.KeyPEM != nil:
		keyPEM, certPEM = o.KeyPEM, o.CertPEM
		if _, _, err := parseCA(keyPEM, certPEM); err != nil {
			return nil, fmt.Errorf("importing CA: %w", err)
		}
	default:
		if keyPEM, certPEM, err = newCA(o.Name); err != nil {
			return nil, err
		}
	}
	if err := atomicfile.WriteNew(filepath.Join(dir, KeyFile), keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("creating CA: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, CertFile), certPEM, 0o644); err != nil {
		return nil, fmt.Errorf("creating CA: %w", err)
	}
	return Open(dir)
}

func newCA(name string) (keyPEM, certPEM []byte, err error) {
	if name == "" {
		name = "attest-build attestation CA"
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("creating CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("creating CA certificate: %w", err)
	}
	if keyPEM, err = cryptoutils.MarshalPrivateKeyToPEM(key); err != nil {
		return nil, nil, fmt.Errorf("encoding CA key: %w", err)
	}
	return keyPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

func parseCA(keyPEM, certPEM []byte) (crypto.Signer, *x509.Certificate, error) {
	priv, err := cryptoutils.UnmarshalPEMToPrivateKey(keyPEM, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("CA key: %w", err)
	}
	key, ok := priv.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("CA key: %T cannot sign", priv)
	}
	certs, err := cryptoutils.UnmarshalCertificatesFromPEM(certPEM)
	if err != nil || len(certs) != 1 {
		return nil, nil, fmt.Errorf("CA certificate: want one PEM certificate (%d found): %v", len(certs), err)
	}
	cert := certs[0]
	if !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, nil, errors.New("CA certificate: not a CA certificate (basicConstraints CA and keyCertSign needed)")
	}
	if err := cryptoutils.EqualKeys(cert.PublicKey, key.Public()); err != nil {
		return nil, nil, fmt.Errorf("CA certificate does not match the CA key: %w", err)
	}
	return key, cert, nil
}

// Open opens the CA in dir.
func Open(dir string) (*CA, error) {
	keyPEM, err := os.ReadFile(filepath.Join(dir, KeyFile))
	if err != nil {
		return nil, fmt.Errorf("opening CA: %w", err)
	}
	certPEM, err := os.ReadFile(filepath.Join(dir, CertFile))
	if err != nil {
		return nil, fmt.Errorf("opening CA: %w", err)
	}
	key, cert, err := parseCA(keyPEM, certPEM)
	if err != nil {
		return nil, fmt.Errorf("opening CA in %s: %w", dir, err)
	}
	for _, d := range []string{pendingDir, issuedDir} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("opening CA: %w", err)
		}
	}
	return &CA{dir: dir, key: key, cert: cert}, nil
}

// Certificate returns the CA's certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

func (ca *CA) now() time.Time {
	if ca.Now != nil {
		return ca.Now()
	}
	return time.Now()
}

// pending is an open challenge, kept in the CA folder.
type pending struct {
	ID           string    `json:"id"`
	SecretSHA256 string    `json:"secretSha256"`
	Expires      time.Time `json:"expires"`
	AKPublic     []byte    `json:"akPublic"`
	Enrollment   `json:"enrollment"`
}

// Enrollment is what the CA learnt of a TPM when it verified its EK.
type Enrollment struct {
	Class ekcert.Class `json:"class"`
	// EKFingerprint is "sha256:" and the hex SHA-256 of the EK's PKIX DER.
	EKFingerprint string `json:"ekFingerprint"`
	// EKIssuer and EKSerial name the EK certificate ("" for a pinned EK).
	EKIssuer string          `json:"ekIssuer,omitempty"`
	EKSerial string          `json:"ekSerial,omitempty"`
	TPM      ekcert.Identity `json:"tpm"`
}

// Challenge verifies an enrollment request and makes its challenge:
//
//   - the AK's TPMT_PUBLIC is a restricted signing key (not decrypt) with
//     fixedTPM, fixedParent and sensitiveDataOrigin, ECC or RSA, nameAlg
//     SHA-256 or SHA-384;
//   - the EK's TPMT_PUBLIC is a restricted decryption key with fixedTPM;
//   - an EK certificate in the request certifies exactly that EK key and
//     chains to an anchor of trust at the current time, or, without one,
//     the EK key is pinned in trust;
//
// then computes TPM2_MakeCredential for that EK and the AK's name over a
// fresh random secret, and records the challenge (the secret's SHA-256,
// the AK, the enrollment) in the CA folder until its expiry.
func (ca *CA) Challenge(q *Request, trust *ekcert.Trust) (*Challenge, error) {
	akName, err := checkAK(q.AKPublic)
	if err != nil {
		return nil, err
	}
	ek, err := tpm.ParsePublic(q.EKPublic)
	if err != nil {
		return nil, fmt.Errorf("%w: ekPublic: %w", ErrRefused, err)
	}
	cert, err := ekCertificateFor(q.EKCertificates, ek)
	if err != nil && cert == nil && len(q.EKCertificates) > 0 {
		return nil, fmt.Errorf("%w: no EK certificate certifies ekPublic: %w", ErrRefused, err)
	}
	if cert == nil && len(q.EKCertificates) > 0 {
		return nil, fmt.Errorf("%w: none of the %d EK certificates certifies ekPublic (%s)", ErrRefused, len(q.EKCertificates), q.EKKind)
	}
	now := ca.now()
	v, err := trust.Verify(cert, ek, nil, now)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	ekFP, err := tpm.Fingerprint(ek)
	if err != nil {
		return nil, err
	}
	enr := Enrollment{Class: v.Class, EKFingerprint: ekFP}
	if cert != nil {
		enr.EKIssuer, enr.EKSerial, enr.TPM = cert.Issuer.String(), cert.SerialNumber.Text(16), cert.Identity
	}

	secret := make([]byte, secretBytes)
	idb := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	if _, err := rand.Read(idb); err != nil {
		return nil, err
	}
	blob, enc, err := tpm.MakeCredential(q.EKPublic, akName, secret, rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	ttl := ca.ChallengeTTL
	if ttl <= 0 {
		ttl = DefaultChallengeTTL
	}
	sum := sha256.Sum256(secret)
	p := pending{
		ID: hex.EncodeToString(idb), SecretSHA256: hex.EncodeToString(sum[:]),
		Expires: now.Add(ttl).UTC().Truncate(time.Second), AKPublic: q.AKPublic, Enrollment: enr,
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteNew(ca.pendingPath(p.ID), b, 0o600); err != nil {
		return nil, fmt.Errorf("recording challenge: %w", err)
	}
	ca.audit("challenge id=%s ek=%s class=%s tpm=%q expires=%s", p.ID, ekFP, v.Class, enr.TPM.Manufacturer, p.Expires.Format(time.RFC3339))
	ca.sweepExpired(now)
	return &Challenge{Version: Version, ID: p.ID, EKKind: q.EKKind, CredentialBlob: blob, Secret: enc, Expires: p.Expires}, nil
}

// sweepExpired removes pending challenges that expired (best effort): an
// unanswered challenge leaves nothing behind for long.
func (ca *CA) sweepExpired(now time.Time) {
	ents, err := os.ReadDir(filepath.Join(ca.dir, pendingDir))
	if err != nil {
		return
	}
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !validID(id) {
			continue
		}
		b, err := os.ReadFile(ca.pendingPath(id))
		if err != nil {
			continue
		}
		var p pending
		if json.Unmarshal(b, &p) == nil && now.After(p.Expires) {
			os.Remove(ca.pendingPath(id))
		}
	}
}

func (ca *CA) pendingPath(id string) string { return filepath.Join(ca.dir, pendingDir, id+".json") }

// checkAK checks an AK's TPMT_PUBLIC and returns its name.
func checkAK(public []byte) ([]byte, error) {
	pub, err := tpm.ParsePublicArea(public)
	if err != nil {
		return nil, fmt.Errorf("%w: akPublic: %w", ErrRefused, err)
	}
	a := pub.ObjectAttributes
	if !a.Restricted || !a.SignEncrypt || a.Decrypt || !a.FixedTPM || !a.FixedParent || !a.SensitiveDataOrigin {
		return nil, fmt.Errorf("%w: akPublic: want a restricted signing key with fixedTPM, fixedParent and sensitiveDataOrigin; found restricted=%t sign=%t decrypt=%t fixedTPM=%t fixedParent=%t sensitiveDataOrigin=%t",
			ErrRefused, a.Restricted, a.SignEncrypt, a.Decrypt, a.FixedTPM, a.FixedParent, a.SensitiveDataOrigin)
	}
	if _, err := tpm.ParseAKPublic(public); err != nil {
		return nil, fmt.Errorf("%w: akPublic: %w", ErrRefused, err)
	}
	name, err := tpm.ObjectName(public)
	if err != nil {
		return nil, fmt.Errorf("%w: akPublic: %w", ErrRefused, err)
	}
	return name, nil
}

// Issue checks a response against its open challenge and issues the AK
// certificate (DER). The challenge is consumed first, whatever the outcome:
// a challenge is answered once. Refused: an unknown or used challenge, an
// expired one, a wrong secret (all ErrChallenge).
func (ca *CA) Issue(s *Response) ([]byte, error) {
	if !validID(s.ID) {
		return nil, fmt.Errorf("%w: id %q is not 32 hex digits", ErrChallenge, s.ID)
	}
	path := ca.pendingPath(s.ID)
	// Rename is atomic: of two concurrent answers, one gets the file.
	taken := path + ".taken"
	if err := os.Rename(path, taken); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: challenge %s is unknown or was already answered", ErrChallenge, s.ID)
		}
		return nil, fmt.Errorf("reading challenge %s: %w", s.ID, err)
	}
	b, err := os.ReadFile(taken)
	os.Remove(taken)
	if err != nil {
		return nil, fmt.Errorf("reading challenge %s: %w", s.ID, err)
	}
	var p pending
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("reading challenge %s: %w", s.ID, err)
	}
	now := ca.now()
	if now.After(p.Expires) {
		ca.audit("refused id=%s: expired at %s", s.ID, p.Expires.Format(time.RFC3339))
		return nil, fmt.Errorf("%w: challenge %s expired at %s", ErrChallenge, s.ID, p.Expires.Format(time.RFC3339))
	}
	sum := sha256.Sum256(s.Credential)
	want, _ := hex.DecodeString(p.SecretSHA256)
	if subtle.ConstantTimeCompare(sum[:], want) != 1 {
		ca.audit("refused id=%s: wrong secret", s.ID)
		return nil, fmt.Errorf("%w: challenge %s: the secret does not match (not activated by the enrolled TPM)", ErrChallenge, s.ID)
	}
	validity := ca.Validity
	if validity <= 0 {
		validity = DefaultValidity
	}
	der, err := ca.issueCert(p.AKPublic, p.Enrollment, now, validity)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	serial := cert.SerialNumber.Text(16)
	if err := atomicfile.Write(filepath.Join(ca.dir, issuedDir, serial+".pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, fmt.Errorf("recording issued certificate: %w", err)
	}
	ca.audit("issued serial=%s id=%s ak=%s ek=%s class=%s tpm=%q model=%q not_after=%s",
		serial, s.ID, akFingerprint(cert), p.EKFingerprint, p.Class, p.TPM.Manufacturer, p.TPM.Model, cert.NotAfter.Format(time.RFC3339))
	return der, nil
}

func akFingerprint(c *x509.Certificate) string {
	fp, err := tpm.Fingerprint(c.PublicKey)
	if err != nil {
		return "?"
	}
	return fp
}

// audit appends one line to the CA's audit log (best effort: a failure is
// reported on stderr by the caller's logger only).
func (ca *CA) audit(format string, a ...any) {
	line := ca.now().UTC().Format(time.RFC3339) + " " + fmt.Sprintf(format, a...) + "\n"
	f, err := os.OpenFile(filepath.Join(ca.dir, AuditFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		fmt.Fprintf(os.Stderr, "attestca: audit log: %v\n", err)
		return
	}
	defer f.Close()
	if _, err := f.WriteString(line); err != nil {
		fmt.Fprintf(os.Stderr, "attestca: audit log: %v\n", err)
	}
}

func randomSerial() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("making a serial number: %w", err)
	}
	return s.Add(s, big.NewInt(1)), nil
}
