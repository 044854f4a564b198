package attestca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/attest-build/attest-build/ekcert"
	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/tpm"
)

// ErrNoAKCertificate reports an attestation that carries no AK
// certificate, where one is needed.
var ErrNoAKCertificate = errors.New("the attestation carries no AK certificate")

// VerifyCarriedAK checks the AK certificate chain a TPM/IMA predicate
// carries (attestationKey.certificates: the AK certificate, then
// intermediates) with VerifyAKCertificate, for the AK of
// attestationKey.tpmtPublic (which must be a restricted signing key).
// o.AK is ignored: the key is the predicate's. Returns the enrollment.
func VerifyCarriedAK(ak predicates.AttestationKey, o AKCertOptions) (*VerifiedAK, error) {
	if len(ak.Certificates) == 0 {
		return nil, ErrNoAKCertificate
	}
	pub, err := tpm.ParseAKPublic(ak.TPMTPublic)
	if err != nil {
		return nil, fmt.Errorf("attestationKey.tpmtPublic: %w", err)
	}
	var chain []*x509.Certificate
	for i, p := range ak.Certificates {
		certs, err := ekcert.ParseCertificates([]byte(p))
		if err != nil || len(certs) != 1 {
			return nil, fmt.Errorf("attestationKey.certificates[%d]: want one PEM certificate: %v", i, err)
		}
		chain = append(chain, certs[0])
	}
	o.AK = pub
	o.Intermediates = append(chain[1:len(chain):len(chain)], o.Intermediates...)
	return VerifyAKCertificate(chain[0], o)
}

// ErrSigningKey reports a signing key certification that does not verify.
var ErrSigningKey = errors.New("TPM signing key not certified by the attestation key")

// VerifySigningKey checks a predicate's signingKey: the AK (akPub, trusted
// by the caller) certified it with TPM2_Certify over nonceStart
// (tpm.VerifyCertify: signature, type, qualifyingData, certified name,
// the key's attributes), and publicKeyPem is the certified key. It returns
// the certified key, which may then be trusted as the DSSE signer.
func VerifySigningKey(sk *predicates.SigningKey, akPub crypto.PublicKey, nonceStart []byte) (*ecdsa.PublicKey, error) {
	if sk == nil {
		return nil, fmt.Errorf("%w: the attestation carries no signingKey", ErrSigningKey)
	}
	pub, err := tpm.VerifyCertify(sk.CertifyInfo, sk.CertifySignature, akPub, sk.TPMTPublic, nonceStart)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSigningKey, err)
	}
	certs, err := tpm.ParseAKPEM([]byte(sk.PublicKeyPEM))
	if err != nil {
		return nil, fmt.Errorf("%w: signingKey.publicKeyPem: %w", ErrSigningKey, err)
	}
	if k, ok := certs.(*ecdsa.PublicKey); !ok || !k.Equal(pub) {
		return nil, fmt.Errorf("%w: signingKey.publicKeyPem is not the certified key", ErrSigningKey)
	}
	return pub, nil
}

// ErrModeClass reports a TPM mode that the AK certificate's enrollment
// class does not allow.
var ErrModeClass = errors.New("TPM mode disagrees with the AK certificate")

// CheckMode checks a claimed TPM mode ("device", "swtpm", "sim") against
// the class the AK was enrolled under: "device" needs ClassHardware; a
// TPM enrolled under a software anchor is "swtpm" or "sim", never "device".
// An empty class (a certificate that records none, as a cloud's) proves
// nothing either way and is not checked.
func CheckMode(class ekcert.Class, mode string) error {
	switch {
	case class == "":
		return nil
	case mode == predicates.ModeDevice && class != ekcert.ClassHardware:
		return fmt.Errorf("%w: tpm.mode is %q, but the AK was enrolled under a %s EK anchor (only hardware anchors prove a device TPM)", ErrModeClass, mode, class)
	case mode != predicates.ModeDevice && class == ekcert.ClassHardware:
		return fmt.Errorf("%w: tpm.mode is %q, but the AK was enrolled under a hardware EK anchor", ErrModeClass, mode)
	}
	return nil
}
