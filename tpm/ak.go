package tpm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	ocidigest "github.com/opencontainers/go-digest"
)

// Default persistent handles of the attestation key, in the owner range of
// persistent handles (TCG "Registry of Reserved TPM 2.0 Handles and
// Localities": 0x81000000-0x817FFFFF), away from the SRK (0x81000001,
// 0x81000002), the EKs (0x81010001, 0x81010002) and the range go-tpm-tools
// uses for its AKs (0x81008F00-0x81008FFF).
const (
	DefaultAKHandleECC uint32 = 0x81008A00
	DefaultAKHandleRSA uint32 = 0x81008A01
)

// AKAlg is an attestation key algorithm.
type AKAlg string

// Attestation key algorithms.
const (
	AKECCP256 AKAlg = "ecc-p256" // ECDSA P-256 with SHA-256 (default)
	AKRSA2048 AKAlg = "rsa-2048" // RSASSA-PKCS1-v1_5 2048 bits with SHA-256
)

// AKOptions choose the attestation key. The zero value is the default:
// ECC P-256 at DefaultAKHandleECC.
type AKOptions struct {
	Alg    AKAlg  // "" means AKECCP256
	Handle uint32 // 0 means DefaultAKHandleECC or DefaultAKHandleRSA by Alg
	// Cloud uses the AK the cloud provisioned (CloudAK) instead; Alg and
	// Handle are then ignored.
	Cloud bool
}

// Validate reports why o cannot name an attestation key: an unknown
// algorithm, or a handle outside the owner persistent range or reserved for
// an SRK or EK.
func (o AKOptions) Validate() error {
	_, err := o.resolve()
	return err
}

func (o AKOptions) resolve() (AKOptions, error) {
	if o.Cloud {
		return o, nil
	}
	if o.Alg == "" {
		o.Alg = AKECCP256
	}
	switch o.Alg {
	case AKECCP256, AKRSA2048:
	default:
		return o, fmt.Errorf("attestation key algorithm %q: want %q or %q", o.Alg, AKECCP256, AKRSA2048)
	}
	if o.Handle == 0 {
		o.Handle = DefaultAKHandleECC
		if o.Alg == AKRSA2048 {
			o.Handle = DefaultAKHandleRSA
		}
	}
	if o.Handle < 0x81000000 || o.Handle > 0x817FFFFF {
		return o, fmt.Errorf("attestation key handle 0x%08x: not in the owner persistent range 0x81000000-0x817fffff", o.Handle)
	}
	if o.Handle == 0x81000001 || o.Handle == 0x81000002 || o.Handle == 0x81010001 || o.Handle == 0x81010002 {
		return o, fmt.Errorf("attestation key handle 0x%08x: reserved for an SRK or EK", o.Handle)
	}
	return o, nil
}

// akAttributes are the attributes of an AK: a restricted signing key that
// never leaves the TPM, usable with an empty password, not subject to
// dictionary-attack lockout.
var akAttributes = tpm2.TPMAObject{
	FixedTPM:            true,
	FixedParent:         true,
	SensitiveDataOrigin: true,
	UserWithAuth:        true,
	NoDA:                true,
	Restricted:          true,
	SignEncrypt:         true,
}

// AKTemplate returns the public template of the attestation key: a primary
// key in the owner hierarchy, so the same owner seed always gives the same
// key.
func AKTemplate(alg AKAlg) (tpm2.TPMTPublic, error) {
	switch alg {
	case AKECCP256, "":
		return eccP256SigningTemplate(akAttributes), nil
	case AKRSA2048:
		return tpm2.TPMTPublic{
			Type:             tpm2.TPMAlgRSA,
			NameAlg:          tpm2.TPMAlgSHA256,
			ObjectAttributes: akAttributes,
			Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
				Scheme: tpm2.TPMTRSAScheme{
					Scheme:  tpm2.TPMAlgRSASSA,
					Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgRSASSA, &tpm2.TPMSSigSchemeRSASSA{HashAlg: tpm2.TPMAlgSHA256}),
				},
				KeyBits: 2048,
			}),
			Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{}),
		}, nil
	}
	return tpm2.TPMTPublic{}, fmt.Errorf("attestation key algorithm %q: want %q or %q", alg, AKECCP256, AKRSA2048)
}

// eccP256SigningTemplate is an ECC NIST P-256, ECDSA-SHA256 signing key
// template with nameAlg SHA-256 and the given attributes.
func eccP256SigningTemplate(attrs tpm2.TPMAObject) tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:             tpm2.TPMAlgECC,
		NameAlg:          tpm2.TPMAlgSHA256,
		ObjectAttributes: attrs,
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Scheme: tpm2.TPMTECCScheme{
				Scheme:  tpm2.TPMAlgECDSA,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
			},
			CurveID: tpm2.TPMECCNistP256,
			KDF:     tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{}),
	}
}

// AK is an attestation key persistent in a TPM.
type AK struct {
	Handle    uint32           // persistent handle
	Alg       AKAlg            //
	Public    []byte           // TPMT_PUBLIC bytes, as the TPM returned them
	Name      []byte           // TPM2B_NAME contents (nameAlg || digest of Public)
	PublicKey crypto.PublicKey // *ecdsa.PublicKey or *rsa.PublicKey
}

// PEM returns the AK's public key as a PEM "PUBLIC KEY" block (PKIX).
func (ak *AK) PEM() []byte {
	b, err := PublicKeyPEM(ak.PublicKey)
	if err != nil {
		// PublicKey came from ParseAKPublic: always ECDSA or RSA.
		panic(fmt.Sprintf("tpm: AK public key: %v", err))
	}
	return b
}

// Fingerprint returns the AK's fingerprint: "sha256:" and the hex SHA-256 of
// the PKIX DER encoding of its public key (what `openssl pkey -pubin
// -outform DER | sha256sum` prints).
func (ak *AK) Fingerprint() string {
	f, err := Fingerprint(ak.PublicKey)
	if err != nil {
		panic(fmt.Sprintf("tpm: AK public key: %v", err))
	}
	return f
}

// Fingerprint returns "sha256:" and the hex SHA-256 of pub's PKIX DER.
func Fingerprint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("fingerprinting public key: %w", err)
	}
	return ocidigest.FromBytes(der).String(), nil
}

// PublicKeyPEM encodes pub as a PEM "PUBLIC KEY" block (PKIX).
func PublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParseAKPEM parses an attestation key's public key from a PEM "PUBLIC
// KEY" block (PKIX, as AK.PEM and tpm2-tools write it). The key must be
// ECDSA or RSA.
func ParseAKPEM(b []byte) (crypto.PublicKey, error) {
	blk, rest := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("parsing AK public key: no PEM block found")
	}
	if blk.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("parsing AK public key: PEM block is %q, want \"PUBLIC KEY\"", blk.Type)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("parsing AK public key: data after the PEM block")
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing AK public key: %w", err)
	}
	switch pub.(type) {
	case *ecdsa.PublicKey, *rsa.PublicKey:
		return pub, nil
	}
	return nil, fmt.Errorf("parsing AK public key: %T is not an ECDSA or RSA key", pub)
}

// ParseAKPublic parses an attestation key's TPMT_PUBLIC bytes and returns
// its public key (*ecdsa.PublicKey or *rsa.PublicKey). The key must be a
// restricted signing key (restricted, sign, not decrypt, fixedTPM): only
// such a key signs nothing but structures the TPM itself made, which is
// what makes a signed TPMS_ATTEST evidence. Trailing bytes are an error.
func ParseAKPublic(tpmtPublic []byte) (crypto.PublicKey, error) {
	pub, err := parsePublic(tpmtPublic)
	if err != nil {
		return nil, err
	}
	a := pub.ObjectAttributes
	if !a.Restricted || !a.SignEncrypt || a.Decrypt || !a.FixedTPM {
		return nil, fmt.Errorf("parsing AK public area: not a restricted signing key that is fixed to its TPM (restricted=%t sign=%t decrypt=%t fixedTPM=%t)",
			a.Restricted, a.SignEncrypt, a.Decrypt, a.FixedTPM)
	}
	return publicKey(pub)
}

func parsePublic(b []byte) (*tpm2.TPMTPublic, error) {
	pub, err := tpm2.Unmarshal[tpm2.TPMTPublic](b)
	if err != nil {
		return nil, fmt.Errorf("%w: parsing TPMT_PUBLIC (%d bytes): %v", ErrMalformed, len(b), err)
	}
	if n := len(tpm2.Marshal(pub)); n != len(b) {
		return nil, fmt.Errorf("%w: parsing TPMT_PUBLIC: %d trailing bytes after byte %d", ErrMalformed, len(b)-n, n)
	}
	return pub, nil
}

func publicKey(pub *tpm2.TPMTPublic) (crypto.PublicKey, error) {
	if pub.Type != tpm2.TPMAlgECC && pub.Type != tpm2.TPMAlgRSA {
		return nil, fmt.Errorf("parsing AK public area: key type 0x%04x is not ECC or RSA", uint16(pub.Type))
	}
	k, err := tpm2.Pub(*pub)
	if err != nil {
		return nil, fmt.Errorf("parsing AK public area: %w", err)
	}
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		if _, err := k.ECDH(); err != nil { // also rejects points off the curve
			return nil, fmt.Errorf("parsing AK public area: ECC point: %w", err)
		}
	case *rsa.PublicKey:
		if k.N.Sign() <= 0 || k.E < 3 || k.E%2 == 0 {
			return nil, fmt.Errorf("parsing AK public area: invalid RSA modulus or exponent %d", k.E)
		}
	}
	return k, nil
}

// ParsePublicArea parses TPMT_PUBLIC bytes (trailing bytes are an error);
// it checks nothing about the key.
func ParsePublicArea(tpmtPublic []byte) (*tpm2.TPMTPublic, error) {
	return parsePublic(tpmtPublic)
}

// ParsePublic parses TPMT_PUBLIC bytes of an ECC or RSA key and returns
// its public key; it checks nothing about the key's attributes.
func ParsePublic(tpmtPublic []byte) (crypto.PublicKey, error) {
	pub, err := parsePublic(tpmtPublic)
	if err != nil {
		return nil, err
	}
	return publicKey(pub)
}
