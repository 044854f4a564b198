package verify

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/attest-build/attest-build/attestca"
	"github.com/attest-build/attest-build/ekcert"
	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance/policy"
	"github.com/attest-build/attest-build/tpm"
)

// caTrust is the policy's attestation CAs, ready for chain checks.
type caTrust struct {
	pool  *x509.CertPool
	names map[string]string // CA certificate's raw subject -> policy name
	crls  []*x509.RevocationList
}

func newCATrust(cas []policy.AttestationKeyCA) *caTrust {
	if len(cas) == 0 {
		return nil
	}
	t := &caTrust{pool: x509.NewCertPool(), names: map[string]string{}}
	for _, c := range cas {
		t.pool.AddCert(c.Certificate)
		t.names[string(c.Certificate.RawSubject)] = c.Name
		if c.CRL != nil {
			t.crls = append(t.crls, c.CRL)
		}
	}
	return t
}

// certifiedSigner is the TPM-resident signing key an attestation names
// (signingKey.publicKeyPem of its TPM/IMA statement). Its signatures are
// checked at the signature check; the key is trusted only when the
// attestation-key check has proved, with a trusted AK, that the TPM
// certified it.
type certifiedSigner struct {
	key      trustedKey
	verifier signature.Verifier
}

// signerCandidate finds the signing key of the TPM/IMA statement among the
// envelopes, reading nothing but signingKey.publicKeyPem of it; nil when
// there is none. The statement is not trusted by this: the key found is
// checked later against the AK's certification.
func signerCandidate(envs []*envelope, maxSubjects int) *certifiedSigner {
	for _, env := range envs {
		if env.payloadType != predicates.PayloadType {
			continue
		}
		s, err := parseStatement(env.payload, maxSubjects)
		if err != nil || s.PredicateType != predicates.TPMIMAType {
			continue
		}
		ms, _, err := jsonObject(s.Predicate, 0)
		if err != nil {
			return nil
		}
		m, found := member(ms, "signingKey")
		if !found {
			return nil
		}
		var sk struct {
			PublicKeyPEM string `json:"publicKeyPem"`
		}
		if json.Unmarshal(s.Predicate[m.start:m.end], &sk) != nil {
			return nil
		}
		pub, err := tpm.ParseAKPEM([]byte(sk.PublicKeyPEM)) // ECDSA or RSA PKIX
		if err != nil {
			return nil
		}
		fp, err := tpm.Fingerprint(pub)
		if err != nil {
			return nil
		}
		sv, err := signature.LoadDefaultVerifier(pub)
		if err != nil {
			return nil
		}
		return &certifiedSigner{key: trustedKey{name: "TPM-resident key", pub: pub, fingerprint: fp}, verifier: sv}
	}
	return nil
}

// verifiesEnvelope reports whether one of env's signatures verifies with
// the candidate key.
func (c *certifiedSigner) verifiesEnvelope(env *envelope) bool {
	header := fmt.Sprintf("DSSEv1 %d %s %d ", len(env.payloadType), env.payloadType, len(env.payload))
	for _, s := range env.signatures {
		sig, err := decodeSig(s.Sig)
		if err != nil {
			continue
		}
		pae := io.MultiReader(strings.NewReader(header), bytes.NewReader(env.payload))
		if c.verifier.VerifySignature(bytes.NewReader(sig), pae) == nil {
			return true
		}
	}
	return false
}

// caAK checks the AK certificate chain the predicate carries against the
// policy's attestation CAs (in policy init, the CA certificate the
// attestation carries last): chain, certified key = the AK of the quotes,
// validity at the build's start and finish (the best times known for the
// quotes), revocation lists. It returns the AK trusted by its CA and the
// enrollment.
func (vr *verification) caAK() (trustedKey, *attestca.VerifiedAK, error) {
	cas := vr.v.cas
	ak := vr.pred.AttestationKey
	if vr.v.bootstrapUnsafe {
		cas = carriedCA(ak.Certificates)
	}
	if cas == nil {
		return trustedKey{}, nil, errors.New("no attestation CA")
	}
	times := []time.Time{vr.pred.Build.StartedOn, vr.pred.Build.FinishedOn}
	var v *attestca.VerifiedAK
	for _, at := range times {
		if at.IsZero() {
			at = vr.v.now()
		}
		var err error
		if v, err = attestca.VerifyCarriedAK(ak, attestca.AKCertOptions{Roots: cas.pool, At: at, CRLs: cas.crls}); err != nil {
			return trustedKey{}, nil, err
		}
	}
	top := v.Chain[len(v.Chain)-1]
	name := cas.names[string(top.RawSubject)]
	if name == "" {
		name = top.Subject.CommonName
	}
	fp, err := tpm.Fingerprint(v.Certificate.PublicKey)
	if err != nil {
		return trustedKey{}, nil, err
	}
	return trustedKey{name: name, pub: v.Certificate.PublicKey, fingerprint: fp}, v, nil
}

// carriedCA trusts the last certificate an attestation carries when it is
// a CA certificate: policy init's trust on first use of the CA.
func carriedCA(pems []string) *caTrust {
	if len(pems) < 2 {
		return nil
	}
	certs, err := ekcert.ParseCertificates([]byte(pems[len(pems)-1]))
	if err != nil || len(certs) != 1 || !certs[0].IsCA {
		return nil
	}
	return newCATrust([]policy.AttestationKeyCA{{Name: certs[0].Subject.CommonName, Certificate: certs[0]}})
}

// checkCertifiedSigner checks that the TPM-resident key whose signatures
// were accepted at the signature check is the key the trusted AK certified
// over the start nonce.
func (vr *verification) checkCertifiedSigner(akPub crypto.PublicKey) error {
	nonce, err := hex.DecodeString(vr.pred.Nonce.Start)
	if err != nil {
		return vr.rep.fail(CheckAttestationKey, fmt.Errorf("%w: nonce.start", ErrMalformed), "hex", vr.pred.Nonce.Start)
	}
	certified, err := attestca.VerifySigningKey(vr.pred.SigningKey, akPub, nonce)
	if err != nil {
		return vr.rep.fail(CheckAttestationKey, fmt.Errorf("%w: %w", ErrUntrustedSigner, err),
			"the DSSE signer "+vr.certSigner.key.fingerprint+" certified by the attestation key over nonce.start", "no valid certification")
	}
	if !certified.Equal(vr.certSigner.key.pub) {
		fp, _ := tpm.Fingerprint(certified)
		return vr.rep.fail(CheckAttestationKey, ErrUntrustedSigner, "the DSSE signer "+vr.certSigner.key.fingerprint+" certified by the attestation key", "certification of "+fp)
	}
	return nil
}

// checkModeClass refuses a TPM mode, or a builder id of another mode, that
// the AK certificate's enrollment class contradicts.
func (vr *verification) checkModeClass(class ekcert.Class) error {
	mode := vr.pred.TPM.Mode
	if err := attestca.CheckMode(class, mode); err != nil {
		return vr.rep.fail(CheckAttestationKey, fmt.Errorf("%w: %w", ErrTPMMode, err), "a TPM mode the "+string(class)+" enrollment allows", mode)
	}
	id := vr.rep.report.Facts.BuilderID
	if m, ok := builderIDMode(id); ok && m != mode {
		return vr.rep.fail(CheckAttestationKey, fmt.Errorf("%w: builder id %s names TPM mode %s, tpm.mode is %s", ErrTPMMode, id, m, mode), "a builder id of mode "+mode, id)
	}
	return nil
}

// builderIDMode returns the TPM mode a builder id names: attest-build's
// default ids (.../builders/tpm-MODE/...) and custom ids (...#MODE).
func builderIDMode(id string) (string, bool) {
	for _, m := range []string{predicates.ModeDevice, predicates.ModeSwtpm, predicates.ModeSim} {
		if strings.HasSuffix(id, "#"+m) || strings.Contains(id, "/builders/tpm-"+m+"/") {
			return m, true
		}
	}
	return "", false
}
