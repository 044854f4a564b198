// Package ekcert parses TPM endorsement key (EK) certificates and verifies
// them against the manufacturer CAs a verifier trusts.
//
// EK certificates break several habits of web PKI, and this package handles
// each one (TCG EK Credential Profile 2.0):
//
//   - their subject is empty and the TPM's identity (manufacturer, model,
//     firmware version) is a directoryName in a critical subjectAltName,
//     which crypto/x509 leaves in UnhandledCriticalExtensions (and Verify
//     then refuses); Parse decodes it into Identity and marks it handled;
//   - TPMs store them in NV with padding after the DER; Parse reads exactly
//     one DER certificate and ignores padding (0x00 or 0xff) after it;
//   - manufacturer CA files are PEM without a final newline, concatenated
//     PEM, or DER; LoadTrust reads all of them, from files or directories;
//   - some CA names are not in DER set order (Nuvoton); chains are built on
//     the names' raw bytes, as crypto/x509 does, so the order is kept.
//
// A TPM with no EK certificate (some vTPMs) can be trusted by pinning its
// EK public key instead (Trust.PinKey): that says "this one TPM", not "a
// genuine TPM of this vendor".
package ekcert

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// TCG OIDs (TCG EK Credential Profile 2.0, 3.2).
var (
	oidSubjectAltName  = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidTPMManufacturer = asn1.ObjectIdentifier{2, 23, 133, 2, 1}
	oidTPMModel        = asn1.ObjectIdentifier{2, 23, 133, 2, 2}
	oidTPMVersion      = asn1.ObjectIdentifier{2, 23, 133, 2, 3}
	// OIDEKCertificate is the extended key usage tcg-kp-EKCertificate.
	OIDEKCertificate = asn1.ObjectIdentifier{2, 23, 133, 8, 1}
)

// MaxSize bounds an EK certificate (a TPM's NV index holds at most a few
// KiB).
const MaxSize = 16 << 10

// ErrMalformed reports bytes that are not an EK certificate.
var ErrMalformed = errors.New("malformed EK certificate")

// Identity is the TPM identity of an EK certificate's subjectAltName.
type Identity struct {
	// Manufacturer is the TPM manufacturer as written, "id:" and 8 hex
	// digits (the TPM_PT_MANUFACTURER value), e.g. "id:53544D20".
	Manufacturer string `json:"manufacturer"`
	Model        string `json:"model,omitempty"`
	Version      string `json:"version,omitempty"`
}

// ManufacturerName decodes Manufacturer to its four ASCII characters
// ("STM", "IFX", "NTC", "IBM"), or returns Manufacturer as written when it
// is not in that form or not ASCII.
func (i Identity) ManufacturerName() string {
	h, ok := strings.CutPrefix(i.Manufacturer, "id:")
	b, err := hex.DecodeString(h)
	if !ok || err != nil || len(b) != 4 {
		return i.Manufacturer
	}
	var s strings.Builder
	for _, c := range b {
		switch {
		case c > 0x20 && c < 0x7f:
			s.WriteByte(c)
		case c != 0 && c != ' ':
			return i.Manufacturer // not ASCII (swtpm writes id:00001014)
		}
	}
	return s.String()
}

// Certificate is a parsed EK certificate.
type Certificate struct {
	*x509.Certificate
	// Identity is the TPM identity from the subjectAltName; zero when the
	// certificate has none (swtpm's carry one; not every vTPM's does).
	Identity Identity
}

// Parse parses one EK certificate: DER (bytes after the certificate must
// be padding of 0x00 or 0xff) or a single PEM CERTIFICATE block. A critical
// subjectAltName holding a TPM identity is decoded and marked handled.
func Parse(b []byte) (*Certificate, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrMalformed, len(b), MaxSize)
	}
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%w: PEM block %q, want CERTIFICATE", ErrMalformed, blk.Type)
		}
		b = blk.Bytes
	}
	der, err := trimDER(b)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return fromX509(c)
}

// trimDER returns the first DER element of b; what follows must be NV
// padding: all 0x00 or all 0xff (erased flash), as some TPMs store it.
func trimDER(b []byte) ([]byte, error) {
	s := cryptobyte.String(b)
	var elem cryptobyte.String
	if !s.ReadASN1Element(&elem, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: not a DER SEQUENCE at byte 0 (%d bytes)", ErrMalformed, len(b))
	}
	if len(s) > 0 {
		pad := s[0]
		if pad != 0x00 && pad != 0xff {
			return nil, fmt.Errorf("%w: byte 0x%02x after the certificate at byte %d (padding is 0x00 or 0xff)", ErrMalformed, pad, len(elem))
		}
		for i, c := range s {
			if c != pad {
				return nil, fmt.Errorf("%w: padding after the certificate changes from 0x%02x to 0x%02x at byte %d", ErrMalformed, pad, c, len(elem)+i)
			}
		}
	}
	return elem, nil
}

func fromX509(c *x509.Certificate) (*Certificate, error) {
	out := &Certificate{Certificate: c}
	for _, e := range c.Extensions {
		if !e.Id.Equal(oidSubjectAltName) {
			continue
		}
		id, found, err := ParseIdentitySAN(e.Value)
		if err != nil {
			return nil, fmt.Errorf("%w: subjectAltName: %w", ErrMalformed, err)
		}
		if !found {
			continue
		}
		out.Identity = id
		// The directoryName is what crypto/x509 does not handle; it is
		// handled now.
		c.UnhandledCriticalExtensions = deleteOID(c.UnhandledCriticalExtensions, oidSubjectAltName)
	}
	return out, nil
}

func deleteOID(list []asn1.ObjectIdentifier, oid asn1.ObjectIdentifier) []asn1.ObjectIdentifier {
	var out []asn1.ObjectIdentifier
	for _, o := range list {
		if !o.Equal(oid) {
			out = append(out, o)
		}
	}
	return out
}

// ParseIdentitySAN finds the TPM identity in a subjectAltName extension's
// value: a directoryName ([4] EXPLICIT Name) with the TCG attributes. Each
// attribute may sit in its own RDN or all in one set. found is false when
// there is none.
func ParseIdentitySAN(v []byte) (id Identity, found bool, err error) {
	var names []asn1.RawValue
	rest, err := asn1.Unmarshal(v, &names)
	if err != nil {
		return Identity{}, false, err
	}
	if len(rest) != 0 {
		return Identity{}, false, fmt.Errorf("%d trailing bytes", len(rest))
	}
	for i, n := range names {
		if n.Class != asn1.ClassContextSpecific || n.Tag != 4 {
			continue
		}
		var rdns pkix.RDNSequence
		if rest, err := asn1.Unmarshal(n.Bytes, &rdns); err != nil || len(rest) != 0 {
			return Identity{}, false, fmt.Errorf("directoryName %d: not a Name: %v", i, err)
		}
		for _, rdn := range rdns {
			for _, atv := range rdn {
				s, ok := atv.Value.(string)
				if !ok {
					continue
				}
				switch {
				case atv.Type.Equal(oidTPMManufacturer):
					id.Manufacturer, found = s, true
				case atv.Type.Equal(oidTPMModel):
					id.Model, found = s, true
				case atv.Type.Equal(oidTPMVersion):
					id.Version, found = s, true
				}
			}
		}
	}
	return id, found, nil
}

// IdentitySAN returns a subjectAltName extension (not critical) whose
// directoryName holds id's TCG attributes, one per RDN; false when id is
// empty.
func IdentitySAN(id Identity) (pkix.Extension, bool, error) {
	var rdns pkix.RDNSequence
	for _, a := range []struct {
		oid asn1.ObjectIdentifier
		v   string
	}{{oidTPMManufacturer, id.Manufacturer}, {oidTPMModel, id.Model}, {oidTPMVersion, id.Version}} {
		if a.v != "" {
			rdns = append(rdns, pkix.RelativeDistinguishedNameSET{{Type: a.oid, Value: a.v}})
		}
	}
	if len(rdns) == 0 {
		return pkix.Extension{}, false, nil
	}
	name, err := asn1.Marshal(rdns)
	if err != nil {
		return pkix.Extension{}, false, err
	}
	gns, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: name}})
	if err != nil {
		return pkix.Extension{}, false, err
	}
	return pkix.Extension{Id: oidSubjectAltName, Value: gns}, true, nil
}
