package tpm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/google/go-tpm/tpm2"
)

// DefaultSigningKeyHandle is the persistent handle of the TPM-resident
// signing key (`-k tpm`), beside the AKs' defaults.
const DefaultSigningKeyHandle uint32 = 0x81008A02

// tpmSTAttestCertify is TPM_ST_ATTEST_CERTIFY (TPM 2.0 Part 2, 6.9).
const tpmSTAttestCertify = 0x8017

// ErrNoSigningKey reports an empty signing key handle.
var ErrNoSigningKey = errors.New("no TPM signing key at the handle")

// signingKeyAttributes: an ordinary (not restricted) signing key that never
// leaves the TPM, used with its authorization value (userWithAuth), not
// subject to dictionary-attack lockout (the value is 32 random bytes: a
// guess is hopeless, and a lockout would stop every other DA-protected use
// of the TPM).
var signingKeyAttributes = tpm2.TPMAObject{
	FixedTPM:            true,
	FixedParent:         true,
	SensitiveDataOrigin: true,
	UserWithAuth:        true,
	NoDA:                true,
	SignEncrypt:         true,
}

// SigningKeyTemplate is the public template of the TPM-resident DSSE
// signing key: ECC NIST P-256, ECDSA with SHA-256, nameAlg SHA-256.
func SigningKeyTemplate() tpm2.TPMTPublic {
	return eccP256SigningTemplate(signingKeyAttributes)
}

// SigningKey is a TPM-resident signing key.
type SigningKey struct {
	Handle    uint32
	Public    []byte // TPMT_PUBLIC bytes as the TPM returned them
	Name      []byte // TPM2B_NAME contents
	PublicKey *ecdsa.PublicKey
}

// CreateSigningKey creates the signing key with authorization value auth
// (at least 16 bytes) as a child of the owner hierarchy's ECC SRK (TCG
// template, recreated and flushed) and makes it persistent at handle. The
// key is random (sensitiveDataOrigin): unlike a primary key, nobody can
// recreate it from the template, and its use needs auth. An occupied handle
// is an error and is left alone.
func (t *TPM) CreateSigningKey(handle uint32, auth []byte) (*SigningKey, error) {
	if len(auth) < 16 {
		return nil, fmt.Errorf("creating the TPM signing key: authorization value of %d bytes, want at least 16", len(auth))
	}
	if err := checkOwnerHandle(handle); err != nil {
		return nil, err
	}
	if _, err := (tpm2.ReadPublic{ObjectHandle: tpm2.TPMHandle(handle)}).Execute(t.t); err == nil {
		return nil, fmt.Errorf("creating the TPM signing key: handle 0x%08x is occupied; evict it or choose another", handle)
	}
	srk, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		InPublic:      tpm2.New2B(tpm2.ECCSRKTemplate),
	}.Execute(t.t)
	if err != nil {
		return nil, fmt.Errorf("creating the storage root key: %w", err)
	}
	defer t.flush(srk.ObjectHandle)
	parent := tpm2.AuthHandle{Handle: srk.ObjectHandle, Name: srk.Name, Auth: tpm2.PasswordAuth(nil)}
	cr, err := tpm2.Create{
		ParentHandle: parent,
		InSensitive:  tpm2.TPM2BSensitiveCreate{Sensitive: &tpm2.TPMSSensitiveCreate{UserAuth: tpm2.TPM2BAuth{Buffer: auth}}},
		InPublic:     tpm2.New2B(SigningKeyTemplate()),
	}.Execute(t.t)
	if err != nil {
		return nil, fmt.Errorf("creating the TPM signing key: %w", err)
	}
	ld, err := tpm2.Load{ParentHandle: parent, InPrivate: cr.OutPrivate, InPublic: cr.OutPublic}.Execute(t.t)
	if err != nil {
		return nil, fmt.Errorf("loading the TPM signing key: %w", err)
	}
	defer t.flush(ld.ObjectHandle)
	_, err = tpm2.EvictControl{
		Auth:             tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		ObjectHandle:     tpm2.NamedHandle{Handle: ld.ObjectHandle, Name: ld.Name},
		PersistentHandle: tpm2.TPMHandle(handle),
	}.Execute(t.t)
	if err != nil {
		return nil, fmt.Errorf("making the TPM signing key persistent at 0x%08x: %w", handle, err)
	}
	return t.SigningKey(handle)
}

func checkOwnerHandle(h uint32) error {
	if h < 0x81000000 || h > 0x817FFFFF {
		return fmt.Errorf("handle 0x%08x: not in the owner persistent range 0x81000000-0x817fffff", h)
	}
	return nil
}

// SigningKey reads the signing key at handle: an error wrapping
// ErrNoSigningKey when the handle is empty, and an error when it holds a
// key that is not from SigningKeyTemplate.
func (t *TPM) SigningKey(handle uint32) (*SigningKey, error) {
	rp, err := tpm2.ReadPublic{ObjectHandle: tpm2.TPMHandle(handle)}.Execute(t.t)
	if errors.Is(err, tpm2.TPMRCHandle) {
		return nil, fmt.Errorf("%w 0x%08x", ErrNoSigningKey, handle)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the TPM signing key at 0x%08x: %w", handle, err)
	}
	pub := rp.OutPublic.Bytes()
	k, err := ParseSigningKeyPublic(pub)
	if err != nil {
		return nil, fmt.Errorf("handle 0x%08x: %w", handle, err)
	}
	return &SigningKey{Handle: handle, Public: bytes.Clone(pub), Name: bytes.Clone(rp.Name.Buffer), PublicKey: k}, nil
}

// ParseSigningKeyPublic parses a TPM signing key's TPMT_PUBLIC and checks
// it is what SigningKeyTemplate makes (everything but the key itself):
// fixedTPM, fixedParent, sensitiveDataOrigin, not restricted, sign only,
// ECDSA P-256 SHA-256.
func ParseSigningKeyPublic(tpmtPublic []byte) (*ecdsa.PublicKey, error) {
	pub, err := parsePublic(tpmtPublic)
	if err != nil {
		return nil, err
	}
	tmpl := SigningKeyTemplate()
	if err := matchesTemplate(pub, &tmpl); err != nil {
		a := pub.ObjectAttributes
		return nil, fmt.Errorf("not a TPM signing key from attest-build's template (%v; fixedTPM=%t fixedParent=%t sensitiveDataOrigin=%t restricted=%t sign=%t decrypt=%t)",
			err, a.FixedTPM, a.FixedParent, a.SensitiveDataOrigin, a.Restricted, a.SignEncrypt, a.Decrypt)
	}
	k, err := publicKey(pub)
	if err != nil {
		return nil, err
	}
	return k.(*ecdsa.PublicKey), nil
}

// Sign signs a SHA-256 digest with the signing key (TPM2_Sign, ECDSA) and
// returns the signature ASN.1 DER encoded, as crypto/ecdsa and DSSE
// verifiers take it.
func (t *TPM) Sign(k *SigningKey, auth, digest []byte) ([]byte, error) {
	if len(digest) != 32 {
		return nil, fmt.Errorf("signing with the TPM key: digest of %d bytes, want 32 (SHA-256)", len(digest))
	}
	rsp, err := tpm2.Sign{
		KeyHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(k.Handle), Name: tpm2.TPM2BName{Buffer: k.Name}, Auth: tpm2.PasswordAuth(auth)},
		Digest:    tpm2.TPM2BDigest{Buffer: digest},
		InScheme: tpm2.TPMTSigScheme{
			Scheme:  tpm2.TPMAlgECDSA,
			Details: tpm2.NewTPMUSigScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSchemeHash{HashAlg: tpm2.TPMAlgSHA256}),
		},
		Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck, Hierarchy: tpm2.TPMRHNull},
	}.Execute(t.t)
	if err != nil {
		return nil, fmt.Errorf("signing with the TPM key at 0x%08x: %w", k.Handle, err)
	}
	e, err := rsp.Signature.Signature.ECDSA()
	if err != nil {
		return nil, fmt.Errorf("signing with the TPM key: %w", err)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(new(big.Int).SetBytes(e.SignatureR.Buffer))
		b.AddASN1BigInt(new(big.Int).SetBytes(e.SignatureS.Buffer))
	})
	return b.Bytes()
}

// Certify has the AK certify the signing key (TPM2_Certify over
// qualifyingData) and returns the TPMS_ATTEST bytes and the AK's
// TPMT_SIGNATURE. Certify needs the key's authorization value.
func (t *TPM) Certify(k *SigningKey, auth []byte, ak *AK, qualifyingData []byte) (attest, sig []byte, err error) {
	if len(qualifyingData) > MaxNonceSize {
		return nil, nil, fmt.Errorf("certifying the TPM signing key: qualifyingData of %d bytes, at most %d", len(qualifyingData), MaxNonceSize)
	}
	rsp, err := tpm2.Certify{
		ObjectHandle:   tpm2.AuthHandle{Handle: tpm2.TPMHandle(k.Handle), Name: tpm2.TPM2BName{Buffer: k.Name}, Auth: tpm2.PasswordAuth(auth)},
		SignHandle:     tpm2.AuthHandle{Handle: tpm2.TPMHandle(ak.Handle), Name: tpm2.TPM2BName{Buffer: ak.Name}, Auth: tpm2.PasswordAuth(nil)},
		QualifyingData: tpm2.TPM2BData{Buffer: qualifyingData},
		InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
	}.Execute(t.t)
	if err != nil {
		return nil, nil, fmt.Errorf("certifying the TPM signing key with the AK: %w", err)
	}
	return rsp.CertifyInfo.Bytes(), tpm2.Marshal(rsp.Signature), nil
}

// Errors of VerifyCertify.
var (
	ErrCertifyType  = errors.New("not a TPM2_Certify structure")
	ErrCertifyName  = errors.New("certified name is not the signing key's")
	ErrCertifyNonce = errors.New("certification qualifyingData (extraData) does not match")
)

// VerifyCertify checks a TPM2_Certify of a signing key by an AK, in order:
// the AK's signature over the raw certifyInfo bytes (ErrSignature), the
// magic TPM_GENERATED_VALUE and type TPM_ST_ATTEST_CERTIFY
// (ErrCertifyType), extraData equal to qualifyingData (ErrCertifyNonce, in
// constant time), the certified name equal to the name of keyPublic (ErrCertifyName),
// and keyPublic being a signing key from SigningKeyTemplate (fixedTPM,
// fixedParent, sensitiveDataOrigin, not restricted). It returns the
// certified public key. The AK must be trusted for this to mean anything.
func VerifyCertify(certifyInfo, sig []byte, akPub crypto.PublicKey, keyPublic, qualifyingData []byte) (*ecdsa.PublicKey, error) {
	if _, err := verifySignature(akPub, certifyInfo, sig); err != nil {
		return nil, err
	}
	r := &reader{b: certifyInfo}
	magic := r.u32("TPMS_ATTEST.magic")
	typ := r.u16("TPMS_ATTEST.type")
	if r.err == nil && (magic != tpmGenerated || typ != tpmSTAttestCertify) {
		return nil, fmt.Errorf("%w: magic 0x%08x type 0x%04x, want 0x%08x 0x%04x", ErrCertifyType, magic, typ, uint32(tpmGenerated), tpmSTAttestCertify)
	}
	r.tpm2b("TPMS_ATTEST.qualifiedSigner")
	extra := r.tpm2b("TPMS_ATTEST.extraData")
	r.need(17, "TPMS_ATTEST.clockInfo")
	r.u64("TPMS_ATTEST.firmwareVersion")
	name := r.tpm2b("TPMS_CERTIFY_INFO.name")
	r.tpm2b("TPMS_CERTIFY_INFO.qualifiedName")
	if r.err == nil && r.off != len(certifyInfo) {
		r.fail("%d trailing bytes after TPMS_ATTEST at byte %d", len(certifyInfo)-r.off, r.off)
	}
	if r.err != nil {
		return nil, r.err
	}
	if subtle.ConstantTimeCompare(extra, qualifyingData) != 1 {
		return nil, mismatch(ErrCertifyNonce, "extraData", qualifyingData, extra)
	}
	want, err := ObjectName(keyPublic)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(name, want) {
		return nil, fmt.Errorf("%w: certified %x, key's name %x", ErrCertifyName, name, want)
	}
	return ParseSigningKeyPublic(keyPublic)
}
