package ekcert

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/attest-build/attest-build/tpm"
)

// Class says what kind of TPM an EK trust anchor vouches for. An attestation
// CA records it in the AK certificates it issues; a verifier accepts
// tpm.mode "device" only under ClassHardware.
type Class string

// Classes of EK trust anchors.
const (
	ClassHardware Class = "hardware" // a TPM manufacturer's CA: a discrete or firmware TPM
	ClassSoftware Class = "software" // a software TPM's CA (swtpm's local CA, a test CA) or an unverified vTPM
)

// ErrUntrusted reports an EK certificate or key that no trusted anchor or
// pin covers.
var ErrUntrusted = errors.New("EK not trusted")

// maxTrustFile bounds one file of trust anchors.
const maxTrustFile = 1 << 20

// Trust is the set of EK trust anchors of a verifier: manufacturer CA
// certificates by class, and pinned EK public keys. Every certificate added
// is an anchor: a chain may end at an intermediate CA that is listed, as in
// Keylime's certificate store (some listed "roots" are themselves issued by
// CAs that are not listed). List only the CAs you trust.
type Trust struct {
	pools map[Class]*x509.CertPool
	count map[Class]int
	pins  map[string]Class // EK public key fingerprint -> class
}

// NewTrust returns an empty Trust.
func NewTrust() *Trust {
	return &Trust{pools: map[Class]*x509.CertPool{}, count: map[Class]int{}, pins: map[string]Class{}}
}

// Empty reports whether the set holds no anchor and no pin.
func (t *Trust) Empty() bool {
	return len(t.pins) == 0 && t.count[ClassHardware]+t.count[ClassSoftware] == 0
}

// Count returns the number of anchor certificates of a class.
func (t *Trust) Count(c Class) int { return t.count[c] }

// AddCert adds a trust anchor of a class.
func (t *Trust) AddCert(c Class, cert *x509.Certificate) {
	if t.pools[c] == nil {
		t.pools[c] = x509.NewCertPool()
	}
	t.pools[c].AddCert(cert)
	t.count[c]++
}

// Load adds every certificate in path as an anchor of class c: a file of
// PEM certificates (concatenated, with or without a final newline), a DER
// certificate, or a directory of such files (not recursive; names starting
// with "." are skipped). It returns the number of certificates added; a
// path that holds none is an error.
func (t *Trust) Load(c Class, path string) (int, error) {
	if c != ClassHardware && c != ClassSoftware {
		return 0, fmt.Errorf("loading EK anchors: class %q is not %q or %q", c, ClassHardware, ClassSoftware)
	}
	files, err := filesOf(path)
	if err != nil {
		return 0, fmt.Errorf("loading EK anchors: %w", err)
	}
	n := 0
	for _, f := range files {
		certs, err := ReadCertificates(f)
		if err != nil {
			return n, fmt.Errorf("loading EK anchors: %w", err)
		}
		for _, cert := range certs {
			t.AddCert(c, cert)
		}
		n += len(certs)
	}
	if n == 0 {
		return 0, fmt.Errorf("loading EK anchors from %s: no certificate found", path)
	}
	return n, nil
}

// filesOf returns path, or the regular files of the directory path (not
// recursive; names starting with "." skipped).
func filesOf(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range ents {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			files = append(files, filepath.Join(path, e.Name()))
		}
	}
	return files, nil
}

// ReadCertificates reads the certificates of one file: PEM CERTIFICATE
// blocks (other blocks are an error; a missing final newline is fine) or
// one DER certificate.
func ReadCertificates(path string) ([]*x509.Certificate, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTrustFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(b) > maxTrustFile {
		return nil, fmt.Errorf("reading %s: more than %d bytes", path, maxTrustFile)
	}
	certs, err := ParseCertificates(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return certs, nil
}

// pemEnd is compiled when certificates are first parsed, not by every
// command's start.
var pemEnd = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`-----END [A-Z0-9 ]{1,64}-----`) })

// ParseCertificates parses PEM CERTIFICATE blocks (any number, with or
// without a final newline; text between blocks is ignored) or, when b holds
// no PEM, one DER certificate.
func ParseCertificates(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	// PEM files without a final newline, concatenated, run one block's
	// END line into the next file's first line, and pem.Decode then skips
	// blocks: put every BEGIN and END line on a line of its own, and count
	// the blocks.
	begins := bytes.Count(b, []byte("-----BEGIN "))
	rest := bytes.ReplaceAll(b, []byte("-----BEGIN "), []byte("\n-----BEGIN "))
	rest = pemEnd().ReplaceAll(rest, []byte("$0\n"))
	for i := 0; ; i++ {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is %q, want CERTIFICATE", i, blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", i, err)
		}
		out = append(out, c)
	}
	if len(out) != begins {
		return nil, fmt.Errorf("%d PEM BEGIN lines, but %d PEM blocks decode", begins, len(out))
	}
	if len(out) > 0 {
		return out, nil
	}
	der, err := trimDER(b)
	if err != nil {
		return nil, fmt.Errorf("neither PEM CERTIFICATE blocks nor DER: %w", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return []*x509.Certificate{c}, nil
}

// PinKey trusts one EK public key (for a TPM without an EK certificate):
// the enrolment of that one TPM, under class c.
func (t *Trust) PinKey(c Class, pub crypto.PublicKey) error {
	fp, err := tpm.Fingerprint(pub)
	if err != nil {
		return err
	}
	t.pins[fp] = c
	return nil
}

// LoadPins pins every PEM PUBLIC KEY in path (a file or a directory of
// files) under class c, and returns how many.
func (t *Trust) LoadPins(c Class, path string) (int, error) {
	files, err := filesOf(path)
	if err != nil {
		return 0, fmt.Errorf("loading EK pins: %w", err)
	}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return n, fmt.Errorf("loading EK pins: %w", err)
		}
		for rest := b; ; {
			var blk *pem.Block
			if blk, rest = pem.Decode(rest); blk == nil {
				break
			}
			if blk.Type != "PUBLIC KEY" {
				return n, fmt.Errorf("loading EK pins: %s: PEM block %q, want PUBLIC KEY", f, blk.Type)
			}
			pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
			if err != nil {
				return n, fmt.Errorf("loading EK pins: %s: %w", f, err)
			}
			if err := t.PinKey(c, pub); err != nil {
				return n, err
			}
			n++
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("loading EK pins from %s: no PUBLIC KEY found", path)
	}
	return n, nil
}

// Verified is an EK that Verify accepted.
type Verified struct {
	Class Class
	// Certificate is the EK certificate, nil for a pinned key.
	Certificate *Certificate
	// Chain is the path from the EK certificate to its anchor.
	Chain []*x509.Certificate
	// PublicKey is the EK public key (from the certificate, or pinned).
	PublicKey crypto.PublicKey
	// Pinned is true when the key was trusted by its pin, not a chain.
	Pinned bool
}

// Verify checks an EK: its certificate against the anchors (a chain valid
// at time at; any of the certificate's extended key usages allowed, since
// manufacturers disagree on them), or, with no certificate, its public key
// against the pins. Software anchors are tried first, so a certificate
// that chains to anchors of both classes gets the weaker one. intermediates
// are untrusted certificates that may complete a chain.
func (t *Trust) Verify(cert *Certificate, pub crypto.PublicKey, intermediates []*x509.Certificate, at time.Time) (*Verified, error) {
	if cert == nil {
		if pub == nil {
			return nil, fmt.Errorf("%w: neither an EK certificate nor an EK public key", ErrUntrusted)
		}
		fp, err := tpm.Fingerprint(pub)
		if err != nil {
			return nil, err
		}
		c, ok := t.pins[fp]
		if !ok {
			return nil, fmt.Errorf("%w: no EK certificate, and EK public key %s is not pinned", ErrUntrusted, fp)
		}
		return &Verified{Class: c, PublicKey: pub, Pinned: true}, nil
	}
	inter := x509.NewCertPool()
	for _, c := range intermediates {
		inter.AddCert(c)
	}
	var errs []string
	for _, class := range []Class{ClassSoftware, ClassHardware} {
		pool := t.pools[class]
		if pool == nil {
			continue
		}
		chains, err := cert.Certificate.Verify(x509.VerifyOptions{
			Roots: pool, Intermediates: inter, CurrentTime: at,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		if err == nil {
			return &Verified{Class: class, Certificate: cert, Chain: chains[0], PublicKey: cert.Certificate.PublicKey}, nil
		}
		errs = append(errs, fmt.Sprintf("%s anchors (%d): %v", class, t.count[class], err))
	}
	if len(errs) == 0 {
		errs = append(errs, "no EK anchors configured")
	}
	sort.Strings(errs)
	return nil, fmt.Errorf("%w: EK certificate issued by %q, serial %s: %s", ErrUntrusted, cert.Issuer, cert.SerialNumber, strings.Join(slices.Compact(errs), "; "))
}
