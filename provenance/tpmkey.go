package provenance

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/attest-build/attest-build/internal/atomicfile"
	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/tpm"
)

// KeyRefTPM is the signing key reference (-k tpm) of the TPM-resident
// signing key.
const KeyRefTPM = "tpm"

// TPMKeyAuthSize is the size of a TPM signing key's authorization value.
const TPMKeyAuthSize = 32

// TPMKey is the TPM-resident signing key of a TPMConfig.
type TPMKey struct {
	// Handle is the key's persistent handle (0: tpm.DefaultSigningKeyHandle).
	Handle uint32
	// AuthFile holds the key's authorization value (TPMKeyAuthSize random
	// bytes). It must be a regular file that only its owner can read or
	// write (mode 0600 or stricter): whoever reads it can sign as this
	// runner. It is read before the build starts and never put in the
	// build's environment.
	AuthFile string
	// Create makes the key, and the authorization file (mode 0600, never
	// replacing one), when the handle is empty.
	Create bool
}

// DefaultTPMKeyAuthFile is where the authorization value of the TPM
// signing key is kept by default: in the attesting user's configuration
// folder, readable by that user only.
func DefaultTPMKeyAuthFile() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("locating the TPM signing key's authorization file: %w", err)
	}
	return filepath.Join(dir, "attest-build", "tpm-signing-key.auth"), nil
}

// ErrAuthFileMode reports an authorization file that others can read.
var ErrAuthFileMode = errors.New("TPM signing key authorization file is readable or writable by others")

// ReadTPMKeyAuth reads an authorization file: a regular file of exactly
// TPMKeyAuthSize bytes, owned by the current user, mode 0600 or stricter.
func ReadTPMKeyAuth(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the TPM signing key's authorization: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading the TPM signing key's authorization: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("reading the TPM signing key's authorization: %s is not a regular file", path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; want 0600 (chmod 600 %s)", ErrAuthFileMode, path, fi.Mode().Perm(), path)
	}
	if uid, ok := fileOwner(fi); ok && uid != os.Getuid() {
		return nil, fmt.Errorf("%w: %s is owned by uid %d, not by the attesting user (uid %d)", ErrAuthFileMode, path, uid, os.Getuid())
	}
	b, err := io.ReadAll(io.LimitReader(f, TPMKeyAuthSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading the TPM signing key's authorization: %w", err)
	}
	if len(b) != TPMKeyAuthSize {
		return nil, fmt.Errorf("reading the TPM signing key's authorization: %s holds %d bytes, want %d", path, len(b), TPMKeyAuthSize)
	}
	return b, nil
}

// newTPMKeyAuth writes a new random authorization value to path (mode
// 0600, its folder 0700 when created); an existing file is never replaced.
func newTPMKeyAuth(path string) ([]byte, error) {
	auth := make([]byte, TPMKeyAuthSize)
	if _, err := rand.Read(auth); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("writing the TPM signing key's authorization: %w", err)
	}
	if err := atomicfile.WriteNew(path, auth, 0o600); err != nil {
		return nil, fmt.Errorf("writing the TPM signing key's authorization: %w", err)
	}
	return auth, nil
}

// loadTPMKey returns the signing key and its authorization value, creating
// both when k.Create says so and the handle is empty.
func loadTPMKey(t *tpm.TPM, k *TPMKey) (*tpm.SigningKey, []byte, error) {
	h := k.Handle
	if h == 0 {
		h = tpm.DefaultSigningKeyHandle
	}
	key, err := t.SigningKey(h)
	if errors.Is(err, tpm.ErrNoSigningKey) && k.Create {
		auth, aerr := newTPMKeyAuth(k.AuthFile)
		if errors.Is(aerr, fs.ErrExist) {
			// An authorization file without its key: use it for the new key.
			auth, aerr = ReadTPMKeyAuth(k.AuthFile)
		}
		if aerr != nil {
			return nil, nil, aerr
		}
		key, err = t.CreateSigningKey(h, auth)
		return key, auth, err
	}
	if err != nil {
		if errors.Is(err, tpm.ErrNoSigningKey) {
			err = fmt.Errorf("%w (create it with: attest-build tpm signing-key)", err)
		}
		return nil, nil, err
	}
	auth, err := ReadTPMKeyAuth(k.AuthFile)
	if err != nil {
		return nil, nil, err
	}
	return key, auth, nil
}

// tpmKeySession is what a TPM session offers when its TPMConfig names a
// signing key.
type tpmKeySession interface {
	SigningPublicKey() (crypto.PublicKey, error)
	SignDigest(digest []byte) ([]byte, error)
	CertifySigningKey(qualifyingData []byte) (*predicates.SigningKey, error)
}

// NewTPMSigner returns a Signer whose every signature the TPM makes with
// the signing key of open's TPMConfig (TPM2_Sign over the SHA-256 of the
// DSSE PAE). Each signature opens a TPM session and closes it.
func NewTPMSigner(open TPMOpener) (*Signer, error) {
	pub, err := withKeySession(open, func(ks tpmKeySession) (crypto.PublicKey, error) { return ks.SigningPublicKey() })
	if err != nil {
		return nil, err
	}
	id, err := KeyFingerprint(pub)
	if err != nil {
		return nil, err
	}
	return &Signer{pub: pub, fingerprint: id, tpm: open}, nil
}

// tpmDSSESigner signs a DSSE PAE in the TPM.
type tpmDSSESigner struct {
	open  TPMOpener
	keyID string
}

func (d *tpmDSSESigner) KeyID() (string, error) { return d.keyID, nil }

func (d *tpmDSSESigner) Sign(_ context.Context, pae []byte) ([]byte, error) {
	sum := sha256.Sum256(pae)
	return withKeySession(d.open, func(ks tpmKeySession) ([]byte, error) { return ks.SignDigest(sum[:]) })
}

var _ dsse.Signer = (*tpmDSSESigner)(nil)

// certifyTPMKey has the AK certify the signer's TPM key over
// qualifyingData, in a session of its own.
func certifyTPMKey(open TPMOpener, qualifyingData []byte) (*predicates.SigningKey, error) {
	return withKeySession(open, func(ks tpmKeySession) (*predicates.SigningKey, error) { return ks.CertifySigningKey(qualifyingData) })
}

// withKeySession opens a TPM session whose configuration names a signing
// key, runs f with it and closes it.
func withKeySession[T any](open TPMOpener, f func(tpmKeySession) (T, error)) (out T, err error) {
	s, err := open()
	if err != nil {
		return out, err
	}
	defer func() {
		if cerr := s.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	ks, ok := s.(tpmKeySession)
	if !ok {
		return out, errors.New("the TPM configuration names no signing key")
	}
	return f(ks)
}

func publicKeyPEM(pub crypto.PublicKey) (string, error) {
	b, err := tpm.PublicKeyPEM(pub)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
