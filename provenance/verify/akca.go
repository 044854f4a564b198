package verify

import (
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

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
// (signingKey of its TPM/IMA statement), trusted because a trusted AK
// certified it: the signature check accepts its signatures only after
// certifiedSignerOf has checked that certification.
type certifiedSigner struct {
	key      trustedKey
	verifier keyVerifier
	ak       *akTrust // the AK that certified it
	// stmt, pred and logB64 are the TPM/IMA statement the key was read
	// from, decoded (checked again, not trusted, by the later checks).
	stmt   *stmt
	pred   *predicates.TPMIMA
	logB64 []byte
}

// certifiedSignerOf reads the TPM-resident signing key from env, the first
// envelope no trusted key verified, and trusts it, in this order: env is
// the TPM/IMA statement (an in-toto statement of that predicateType, the
// predicate decoding and valid); its signingKey.publicKeyPem verifies env's
// signature; its AK is trusted (trustAK: pinned by the policy, or certified
// by a policy CA); and that AK certified the key over nonce.start
// (attestca.VerifySigningKey). The work is bounded by the one envelope.
func (vr *verification) certifiedSignerOf(env *envelope, pae *paeDigests) (*certifiedSigner, *checkFailure) {
	expected := "a signature by a trusted key (" + orNone(strings.Join(vr.trustedFingerprints(), ", ")) +
		"), or by the TPM/IMA statement's signingKey certified by a trusted attestation key (that statement's envelope first among those no trusted key signed)"
	fail := func(err error, found string) *checkFailure {
		return &checkFailure{fmt.Errorf("line %d: %w: %w", env.line, ErrUntrustedSigner, err), expected, fmt.Sprintf("line %d: no trusted key's signature; %s", env.line, found)}
	}
	if env.payloadType != predicates.PayloadType {
		return nil, fail(fmt.Errorf("payloadType %q", env.payloadType), "payloadType "+orNone(env.payloadType)+", not an in-toto statement")
	}
	s, err := parseStatement(env.payload, vr.v.maxSubjects)
	if err != nil {
		return nil, fail(err, "not a readable in-toto statement")
	}
	if s.PredicateType != predicates.TPMIMAType {
		return nil, fail(errors.New("not the TPM/IMA statement"), "a statement of predicateType "+orNone(s.PredicateType)+", not the TPM/IMA one that names a TPM-resident signer")
	}
	env.parsed = s
	p, logB64, err := decodeCheckedTPMIMA(s.Predicate, s.logData)
	if err == nil {
		err = p.Validate()
	}
	if err != nil {
		return nil, fail(fmt.Errorf("%w: %w", ErrMalformed, err), "a TPM/IMA predicate that does not decode")
	}
	if p.SigningKey == nil {
		return nil, fail(errors.New("no signingKey"), "a TPM/IMA statement that names no TPM-resident signingKey")
	}
	pub, err := tpm.ParseAKPEM([]byte(p.SigningKey.PublicKeyPEM)) // ECDSA or RSA PKIX
	if err != nil {
		return nil, fail(fmt.Errorf("%w: signingKey.publicKeyPem: %w", ErrMalformed, err), "an undecodable signingKey.publicKeyPem")
	}
	fp, err := tpm.Fingerprint(pub)
	if err != nil {
		return nil, fail(err, "an unusable signingKey.publicKeyPem")
	}
	sv, err := newKeyVerifier(pub)
	if err != nil {
		return nil, fail(err, "an unusable signingKey.publicKeyPem")
	}
	c := &certifiedSigner{key: trustedKey{name: "TPM-resident key", pub: pub, fingerprint: fp}, verifier: sv, stmt: s, pred: p, logB64: logB64}
	if !c.verifiesEnvelope(env, pae) {
		return nil, fail(ErrBadSignature, "no signature that verifies with its signingKey "+fp+" either")
	}
	ak, f := vr.trustAK(p)
	if f != nil {
		return nil, &checkFailure{fmt.Errorf("line %d: %w: signingKey %s: its attestation key: %w", env.line, ErrUntrustedSigner, fp, f.err), "signingKey certified by " + f.expected, f.found}
	}
	nonce, err := hex.DecodeString(p.Nonce.Start)
	if err != nil {
		return nil, fail(fmt.Errorf("%w: nonce.start", ErrMalformed), "nonce.start "+orNone(p.Nonce.Start)+", not hex")
	}
	if _, err := attestca.VerifySigningKey(p.SigningKey, ak.key.pub, nonce); err != nil {
		return nil, &checkFailure{fmt.Errorf("line %d: %w: %w", env.line, ErrUntrustedSigner, err),
			"the DSSE signer " + fp + " certified by the attestation key " + ak.key.fingerprint + " over nonce.start", "no valid certification: " + err.Error()}
	}
	c.ak = ak
	return c, nil
}

// verifiesEnvelope reports whether one of env's signatures verifies with
// the key.
func (c *certifiedSigner) verifiesEnvelope(env *envelope, pae *paeDigests) bool {
	for _, s := range env.signatures {
		if sig, err := decodeSig(s.Sig); err == nil && pae.verify(c.verifier, sig) {
			return true
		}
	}
	return false
}

// akTrust is how the attestation's AK is trusted: by the policy's pinned
// key (cert nil), or by its certificate chain to a policy CA.
type akTrust struct {
	key    trustedKey // the trusted key, from the policy or the certificate
	cert   *attestca.VerifiedAK
	detail string // for the report
}

// trustAK decides whether the predicate's AK is trusted (the
// attestation-key check, and the signature check for a TPM-resident
// signer): publicKeyPem parses and has the carried fingerprint; the policy
// pins a key of that fingerprint, or, with attestation CAs, the carried
// certificate chain leads to one (caAK); TPMT_PUBLIC holds the same key.
func (vr *verification) trustAK(p *predicates.TPMIMA) (*akTrust, *checkFailure) {
	ak := p.AttestationKey
	pub, err := parsePublicKeyPEM([]byte(ak.PublicKeyPEM))
	if err != nil {
		return nil, &checkFailure{fmt.Errorf("%w: attestationKey.publicKeyPem: %w", ErrMalformed, err), "a PEM public key", "undecodable"}
	}
	fp, err := tpm.Fingerprint(pub)
	if err != nil {
		return nil, &checkFailure{fmt.Errorf("%w: %w", ErrMalformed, err), "a PEM public key", "unusable"}
	}
	if ak.Fingerprint != fp {
		return nil, &checkFailure{fmt.Errorf("%w: attestationKey.fingerprint", ErrMalformed), fp + " (the fingerprint of publicKeyPem)", ak.Fingerprint}
	}
	aks := fromPolicy(vr.v.policy.AttestationKeys())
	if vr.v.bootstrapUnsafe {
		aks = []trustedKey{{name: "reference", pub: pub, fingerprint: fp}}
	}
	t := &akTrust{}
	i := slices.IndexFunc(aks, func(k trustedKey) bool { return k.fingerprint == fp })
	// A certified AK is preferred in policy init: the policy then trusts
	// its CA, not the key.
	caFirst := vr.v.bootstrapUnsafe && p.SigningKey != nil && carriedCA(ak.Certificates) != nil
	if i < 0 || caFirst {
		if vr.v.cas == nil && !caFirst {
			fps := make([]string, len(aks))
			for j, k := range aks {
				fps[j] = k.fingerprint + " (" + k.name + ")"
			}
			return nil, &checkFailure{ErrUntrustedAK, "one of " + orNone(strings.Join(fps, ", ")), fp}
		}
		trusted, cert, err := vr.caAK(p)
		if err != nil {
			return nil, &checkFailure{fmt.Errorf("%w: %w", ErrUntrustedAK, err), "an AK certificate chaining to a trusted attestation CA, for " + fp, "none that verifies"}
		}
		t.key, t.cert = trusted, cert
		class := "an EK anchor of unrecorded class: tpm.mode is the signer's word"
		if cert.Class != "" {
			class = "a " + string(cert.Class) + " EK anchor"
		}
		t.detail = fmt.Sprintf(" (certificate serial %s by CA %q, enrolled under %s)", cert.Certificate.SerialNumber.Text(16), trusted.name, class)
	} else {
		t.key = aks[i]
		t.detail = " (builder " + aks[i].name + ")"
	}
	if err := sameKeyAsTPMTPublic(ak.TPMTPublic, t.key.pub); err != nil {
		return nil, &checkFailure{fmt.Errorf("%w: attestationKey.tpmtPublic: %w", ErrUntrustedAK, err), "the TPMT_PUBLIC of " + fp, "another key"}
	}
	return t, nil
}

// caAK checks the AK certificate chain the predicate carries against the
// policy's attestation CAs (in policy init, the CA certificate the
// attestation carries last): chain, certified key = the AK of the quotes,
// validity at the build's start and finish (the best times known for the
// quotes), revocation lists. It returns the AK trusted by its CA and the
// enrollment.
func (vr *verification) caAK(p *predicates.TPMIMA) (trustedKey, *attestca.VerifiedAK, error) {
	cas := vr.v.cas
	ak := p.AttestationKey
	if vr.v.bootstrapUnsafe {
		cas = carriedCA(ak.Certificates)
	}
	if cas == nil {
		return trustedKey{}, nil, errors.New("no attestation CA")
	}
	times := []time.Time{p.Build.StartedOn, p.Build.FinishedOn}
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
