package provenance

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"

	"github.com/attest-build/attest-build/tpm"
)

// KeyEnv names the environment variable that gives the signing key (a PEM
// file's path or the PEM text) when -k/--key is not set.
const KeyEnv = "ATTEST_BUILD_KEY"

// KeyPasswordEnv names the environment variable that holds the password of an
// encrypted signing key (cosign or sigstore format, or encrypted PKCS #8).
const KeyPasswordEnv = "ATTEST_BUILD_KEY_PASSWORD"

// ErrKeyPassword reports an encrypted signing key without a password, or with
// a wrong one.
var ErrKeyPassword = errors.New("signing key password")

// Signer signs DSSE envelopes with a private key. The envelopes' keyid is
// empty (EnvelopeKeyID); the key is known by its Fingerprint.
type Signer struct {
	sv          signature.SignerVerifier
	pub         crypto.PublicKey
	fingerprint string
	// tpm, when set, opens the TPM whose resident key signs (NewTPMSigner);
	// sv is then nil.
	tpm TPMOpener
}

// EnvelopeKeyID is the keyid of every signature attest-build writes: empty,
// as cosign writes it. The DSSE specification makes the keyid an optional,
// unsigned hint, and the keyid-aware verifiers (go-securesystemslib's
// dsse.EnvelopeVerifier, sigstore's dsse.WrapVerifier, in-toto-golang,
// cosign, sigstore-go) skip a signature whose non-empty keyid differs from
// the one they compute for their key, and each computes its own (sigstore:
// none; in-toto / securesystemslib: the SHA-256 of the key's canonical JSON).
// Only the empty keyid is tried by all of them. attest-build's verifier finds
// the key by trying each trusted key, never by the keyid.
const EnvelopeKeyID = ""

// NewSigner returns a Signer for an ECDSA (P-256, P-384, P-521), Ed25519 or
// RSA private key. The hash is sigstore's default for the key: SHA-256 for
// P-256 and RSA, SHA-384 for P-384, SHA-512 for P-521, none for Ed25519.
func NewSigner(priv crypto.PrivateKey) (*Signer, error) {
	sv, err := signature.LoadDefaultSignerVerifier(priv)
	if err != nil {
		return nil, fmt.Errorf("loading signing key: %w", err)
	}
	pub, err := sv.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("loading signing key: %w", err)
	}
	id, err := KeyFingerprint(pub)
	if err != nil {
		return nil, err
	}
	return &Signer{sv: sv, pub: pub, fingerprint: id}, nil
}

// ErrUnsupportedKeyRef reports a signing key reference attest-build cannot
// load yet (a KMS URI).
var ErrUnsupportedKeyRef = errors.New("unsupported signing key reference")

// KeyRefIsPEM reports whether a signing key reference (-k/--key or
// ATTEST_BUILD_KEY) is the key's PEM text rather than a file path: it holds a
// "-----BEGIN" line.
func KeyRefIsPEM(ref string) bool { return strings.Contains(ref, "-----BEGIN") }

// ErrNotPrivateKey is returned by LoadSigner for a public key or a
// certificate where the private key belongs.
var ErrNotPrivateKey = errors.New("not a private key")

// LoadSigner loads a PEM private key: PKCS #8, SEC 1 (EC PRIVATE KEY), PKCS #1
// (RSA PRIVATE KEY), encrypted PKCS #8, or a cosign / sigstore encrypted key.
// ref is the path of the key file or, when KeyRefIsPEM, the PEM text itself
// (as a CI secret holds it). password decrypts an encrypted key; it may be nil
// for a plain one. Neither the password nor a ref that is not a readable file
// (it may be key material) is ever put in an error.
func LoadSigner(ref string, password []byte) (*Signer, error) {
	var (
		data []byte
		name string // how errors name the key
	)
	switch {
	case KeyRefIsPEM(ref):
		data, name = []byte(ref), "(PEM text, not shown)"
	case strings.Contains(ref, "://"):
		// Not echoed: a URI may carry credentials (scp://user:password@host/...).
		return nil, fmt.Errorf("signing key (the -k/--key or %s value, a URI, not shown): %w: KMS URIs are not supported yet; give a PEM key file or its text", KeyEnv, ErrUnsupportedKeyRef)
	default:
		var err error
		if data, err = os.ReadFile(ref); err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				// The reference may be key material that is not PEM
				// (a key body pasted without its armour): never echo
				// it. Keep the error's kind.
				err = &fs.PathError{Op: pe.Op, Path: "(the -k/--key or " + KeyEnv + " value, not shown)", Err: pe.Err}
			}
			return nil, fmt.Errorf("reading signing key: %w", err)
		}
		name = ref
	}
	if b, _ := pem.Decode(data); b != nil && (b.Type == "PUBLIC KEY" || b.Type == "CERTIFICATE") {
		hint := ""
		if strings.HasSuffix(name, ".pub") {
			hint = " (" + strings.TrimSuffix(name, ".pub") + ".key?)"
		}
		return nil, fmt.Errorf("reading signing key %s: %w: this is a %s: give the private key (.key)%s; the .pub file is for verifiers",
			name, ErrNotPrivateKey, strings.ToLower(b.Type), hint)
	}
	var pf cryptoutils.PassFunc
	if password != nil {
		pf = cryptoutils.StaticPasswordFunc(password)
	}
	priv, err := cryptoutils.UnmarshalPEMToPrivateKey(data, pf)
	if err != nil {
		if encryptedPEM(data) {
			if password == nil {
				return nil, fmt.Errorf("reading signing key %s: %w: the key is encrypted; set %s", name, ErrKeyPassword, KeyPasswordEnv)
			}
			return nil, fmt.Errorf("reading signing key %s: %w: decryption failed (wrong password?): %w", name, ErrKeyPassword, err)
		}
		return nil, fmt.Errorf("reading signing key %s: %w", name, err)
	}
	s, err := NewSigner(priv)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", name, err)
	}
	return s, nil
}

// Fingerprint returns the key's fingerprint (KeyFingerprint).
func (s *Signer) Fingerprint() string { return s.fingerprint }

// InTPM reports whether the signer's key is the TPM-resident signing key.
func (s *Signer) InTPM() bool { return s.tpm != nil }

// PublicKey returns the signer's public key.
func (s *Signer) PublicKey() crypto.PublicKey { return s.pub }

// dsseSigner adapts the signer to go-securesystemslib's DSSE signer.
func (s *Signer) dsseSigner() dsse.Signer {
	if s.tpm != nil {
		return &tpmDSSESigner{open: s.tpm, keyID: EnvelopeKeyID}
	}
	return &sigdsse.SignerAdapter{SignatureSigner: s.sv, Pub: s.pub, PubKeyID: EnvelopeKeyID}
}

// KeyFingerprint returns "sha256:" and the lowercase hex SHA-256 of the PKIX
// DER encoding of pub: how policies, reports and messages name a signer key,
// in the same form as the attestation key fingerprint in the TPM/IMA
// predicate. It is not written into envelopes (EnvelopeKeyID).
func KeyFingerprint(pub crypto.PublicKey) (string, error) {
	return tpm.Fingerprint(pub)
}

// NewEnvelopeVerifier returns a DSSE verifier for envelopes signed by the
// private key of pub, with the same algorithm choice as NewSigner. Like the
// third-party verifiers it computes no keyid of its own, so it tries pub on
// every signature whatever its keyid.
func NewEnvelopeVerifier(pub crypto.PublicKey) (*dsse.EnvelopeVerifier, error) {
	v, err := signature.LoadDefaultVerifier(pub)
	if err != nil {
		return nil, fmt.Errorf("loading verification key: %w", err)
	}
	ev, err := dsse.NewEnvelopeVerifier(&sigdsse.VerifierAdapter{SignatureVerifier: v, Pub: pub})
	if err != nil {
		return nil, fmt.Errorf("loading verification key: %w", err)
	}
	return ev, nil
}

// LoadPublicKey parses a PEM public key (PKIX).
func LoadPublicKey(pemBytes []byte) (crypto.PublicKey, error) {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("parsing public key PEM: %w", err)
	}
	return pub, nil
}

// KeyAlgorithm names a key type for GenerateKey.
type KeyAlgorithm string

// Key algorithms GenerateKey can make.
const (
	KeyECDSAP256 KeyAlgorithm = "ecdsa-p256"
	KeyECDSAP384 KeyAlgorithm = "ecdsa-p384"
	KeyEd25519   KeyAlgorithm = "ed25519"
	KeyRSA3072   KeyAlgorithm = "rsa-3072"
)

// GenerateKey makes a new private key and writes PREFIX.key (PEM, mode 0600)
// and PREFIX.pub (PEM public key). With a non-empty password the private key
// is encrypted in sigstore's format (scrypt + secretbox, "ENCRYPTED SIGSTORE
// PRIVATE KEY", which cosign reads too); else it is plain PKCS #8. Both files
// are written atomically with their final mode from the first byte, and an
// existing file is never replaced, even one created meanwhile (an error
// wrapping fs.ErrExist).
func GenerateKey(prefix string, alg KeyAlgorithm, password []byte) (*Signer, error) {
	var (
		priv crypto.Signer
		err  error
	)
	switch alg {
	case KeyECDSAP256, "":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyECDSAP384:
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case KeyEd25519:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case KeyRSA3072:
		priv, err = rsa.GenerateKey(rand.Reader, 3072)
	default:
		return nil, fmt.Errorf("generating key: unknown algorithm %q (want %s, %s, %s or %s)", alg, KeyECDSAP256, KeyECDSAP384, KeyEd25519, KeyRSA3072)
	}
	if err != nil {
		return nil, fmt.Errorf("generating %s key: %w", alg, err)
	}
	var privPEM []byte
	if len(password) > 0 {
		der, err := cryptoutils.MarshalPrivateKeyToEncryptedDER(priv, cryptoutils.StaticPasswordFunc(password))
		if err != nil {
			return nil, fmt.Errorf("encrypting private key: %w", err)
		}
		privPEM = cryptoutils.PEMEncode(cryptoutils.EncryptedSigstorePrivateKeyPEMType, der)
	} else if privPEM, err = cryptoutils.MarshalPrivateKeyToPEM(priv); err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	pubPEM, err := cryptoutils.MarshalPublicKeyToPEM(priv.Public())
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	s, err := NewSigner(priv)
	if err != nil {
		return nil, err
	}
	keyPath, pubPath := prefix+".key", prefix+".pub"
	if err := writeKeyFile(keyPath, privPEM, 0o600); err != nil {
		return nil, err
	}
	if err := writeKeyFile(pubPath, pubPEM, 0o644); err != nil {
		os.Remove(keyPath) // ours: writeKeyFile never replaces a file
		return nil, err
	}
	return s, nil
}

// writeKeyFile writes a new key file and never replaces an existing one, even
// one created while the key was being generated.
func writeKeyFile(path string, data []byte, perm os.FileMode) error {
	err := writeFileNew(path, data, perm)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("generating key: %s exists; not overwriting it: %w", path, fs.ErrExist)
	}
	return err
}

func encryptedPEM(data []byte) bool {
	for _, t := range []string{"ENCRYPTED COSIGN PRIVATE KEY", "ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "Proc-Type: 4,ENCRYPTED"} {
		if bytes.Contains(data, []byte(t)) {
			return true
		}
	}
	return false
}
