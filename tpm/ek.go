package tpm

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"hash"
	"io"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// EKKind names an endorsement key template: the TCG EK Credential Profile's
// default templates, which the EK certificates in NV certify.
type EKKind string

// EK templates (TCG EK Credential Profile 2.0, B.3.3 and B.3.4).
const (
	EKRSA2048 EKKind = "rsa-2048" // template L-1, certificate at EKCertIndexRSA2048
	EKECCP256 EKKind = "ecc-p256" // template L-2, certificate at EKCertIndexECCP256
)

// EKKindOfIndex returns the EK template whose certificate lives at an NV
// index, and false for indices whose template this package does not make.
func EKKindOfIndex(index uint32) (EKKind, bool) {
	switch index {
	case EKCertIndexRSA2048:
		return EKRSA2048, true
	case EKCertIndexECCP256:
		return EKECCP256, true
	}
	return "", false
}

func ekTemplate(kind EKKind) (tpm2.TPMTPublic, error) {
	switch kind {
	case EKRSA2048:
		return tpm2.RSAEKTemplate, nil
	case EKECCP256:
		return tpm2.ECCEKTemplate, nil
	}
	return tpm2.TPMTPublic{}, fmt.Errorf("EK kind %q: want %q or %q", kind, EKRSA2048, EKECCP256)
}

// EK is an endorsement key's public part.
type EK struct {
	Kind      EKKind
	Public    []byte           // TPMT_PUBLIC bytes, as the TPM returned them
	PublicKey crypto.PublicKey // *rsa.PublicKey or *ecdsa.PublicKey
}

// EK recreates the endorsement key of a template (a primary key of the
// endorsement hierarchy, so always the same key) and returns its public
// part. Nothing is left loaded.
func (t *TPM) EK(kind EKKind) (*EK, error) {
	h, pub, _, err := t.loadEK(kind)
	if err != nil {
		return nil, err
	}
	t.flush(h)
	p, err := parsePublic(pub)
	if err != nil {
		return nil, fmt.Errorf("endorsement key (%s): %w", kind, err)
	}
	k, err := tpm2.Pub(*p)
	if err != nil {
		return nil, fmt.Errorf("endorsement key (%s): %w", kind, err)
	}
	return &EK{Kind: kind, Public: pub, PublicKey: k}, nil
}

func (t *TPM) loadEK(kind EKKind) (tpm2.TPMHandle, []byte, tpm2.TPM2BName, error) {
	tmpl, err := ekTemplate(kind)
	if err != nil {
		return 0, nil, tpm2.TPM2BName{}, err
	}
	cp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHEndorsement, Auth: tpm2.PasswordAuth(nil)},
		InPublic:      tpm2.New2B(tmpl),
	}.Execute(t.t)
	if err != nil {
		return 0, nil, tpm2.TPM2BName{}, fmt.Errorf("creating the endorsement key (%s): %w", kind, err)
	}
	return cp.ObjectHandle, cp.OutPublic.Bytes(), cp.Name, nil
}

// ActivateCredential runs TPM2_ActivateCredential: the endorsement key of
// kind decrypts a credential (credentialBlob, a TPM2B_ID_OBJECT's contents,
// and secret, a TPM2B_ENCRYPTED_SECRET's) made for it and bound to ak's
// name, and returns the credential value. The TPM releases it only when it
// holds both that EK and an object of that name; ak must be loaded (it is
// persistent). The EK's policy (PolicySecret of the endorsement hierarchy,
// empty password) is satisfied in a policy session.
func (t *TPM) ActivateCredential(ak *AK, kind EKKind, credentialBlob, secret []byte) ([]byte, error) {
	ek, _, ekName, err := t.loadEK(kind)
	if err != nil {
		return nil, err
	}
	defer t.flush(ek)
	rp, err := tpm2.ReadPublic{ObjectHandle: tpm2.TPMHandle(ak.Handle)}.Execute(t.t)
	if err != nil {
		return nil, fmt.Errorf("activating credential: reading the attestation key at 0x%08x: %w", ak.Handle, err)
	}
	if !bytes.Equal(rp.Name.Buffer, ak.Name) {
		return nil, fmt.Errorf("activating credential: the key at 0x%08x is not the attestation key given", ak.Handle)
	}
	policy := func(tp transport.TPM, h tpm2.TPMISHPolicy, nonce tpm2.TPM2BNonce) error {
		_, err := tpm2.PolicySecret{
			AuthHandle:    tpm2.AuthHandle{Handle: tpm2.TPMRHEndorsement, Auth: tpm2.PasswordAuth(nil)},
			PolicySession: h,
			NonceTPM:      nonce,
		}.Execute(tp)
		return err
	}
	rsp, err := tpm2.ActivateCredential{
		ActivateHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(ak.Handle), Name: rp.Name, Auth: tpm2.PasswordAuth(nil)},
		KeyHandle:      tpm2.AuthHandle{Handle: ek, Name: ekName, Auth: tpm2.Policy(tpm2.TPMAlgSHA256, 16, policy)},
		CredentialBlob: tpm2.TPM2BIDObject{Buffer: credentialBlob},
		Secret:         tpm2.TPM2BEncryptedSecret{Buffer: secret},
	}.Execute(t.t)
	if err != nil {
		return nil, fmt.Errorf("activating credential with the %s endorsement key: %w", kind, err)
	}
	return rsp.CertInfo.Buffer, nil
}

// MakeCredential computes TPM2_MakeCredential in software, for an
// attestation CA: a credential value that only the TPM holding the
// endorsement key ekPublic (TPMT_PUBLIC bytes) and an object named name
// (TPM2B_NAME contents) can recover with ActivateCredential. It returns the
// credential blob and the encrypted seed.
func MakeCredential(ekPublic, name, value []byte, rand io.Reader) (credentialBlob, secret []byte, err error) {
	pub, err := parsePublic(ekPublic)
	if err != nil {
		return nil, nil, fmt.Errorf("making credential: endorsement key: %w", err)
	}
	a := pub.ObjectAttributes
	if !a.Restricted || !a.Decrypt || a.SignEncrypt || !a.FixedTPM {
		return nil, nil, fmt.Errorf("making credential: the endorsement key is not a restricted decryption key fixed to its TPM (restricted=%t decrypt=%t sign=%t fixedTPM=%t)",
			a.Restricted, a.Decrypt, a.SignEncrypt, a.FixedTPM)
	}
	key, err := tpm2.ImportEncapsulationKey(pub)
	if err != nil {
		return nil, nil, fmt.Errorf("making credential: endorsement key: %w", err)
	}
	blob, secret, err := tpm2.CreateCredential(rand, key, name, value)
	if err != nil {
		return nil, nil, fmt.Errorf("making credential: %w", err)
	}
	return blob, secret, nil
}

// ObjectName returns the TPM name of a TPMT_PUBLIC: its nameAlg (2 bytes,
// big-endian) and the digest by it of the bytes as given (never of a
// re-encoding). SHA-256 and SHA-384 name algorithms are supported.
func ObjectName(tpmtPublic []byte) ([]byte, error) {
	pub, err := parsePublic(tpmtPublic)
	if err != nil {
		return nil, err
	}
	var h hash.Hash
	switch pub.NameAlg {
	case tpm2.TPMAlgSHA256:
		h = sha256.New()
	case tpm2.TPMAlgSHA384:
		h = sha512.New384()
	default:
		return nil, fmt.Errorf("computing the name of a TPMT_PUBLIC: name algorithm 0x%04x is not SHA-256 or SHA-384", uint16(pub.NameAlg))
	}
	h.Write(tpmtPublic)
	return h.Sum(binary.BigEndian.AppendUint16(nil, uint16(pub.NameAlg))), nil
}
