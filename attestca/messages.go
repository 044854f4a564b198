package attestca

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Version is the version of the enrollment messages.
const Version = 1

// Bounds on the enrollment messages, far above any real one: the CA reads
// them from untrusted runners.
const (
	MaxMessageSize = 64 << 10
	maxEKCerts     = 8
	maxPublicSize  = 1024
	maxCredential  = 1024
)

// ErrMalformed reports an enrollment message that cannot be read.
var ErrMalformed = errors.New("malformed enrollment message")

// Request is what a runner sends to enroll its AK.
type Request struct {
	Version int `json:"version"`
	// EKCertificates are the EK certificates read from the TPM's NV, DER.
	EKCertificates [][]byte `json:"ekCertificates,omitempty"`
	// EKKind names the EK template ("rsa-2048", "ecc-p256") the runner
	// recreated; EKPublic is that EK's TPMT_PUBLIC.
	EKKind   string `json:"ekKind"`
	EKPublic []byte `json:"ekPublic"`
	// AKPublic is the attestation key's TPMT_PUBLIC.
	AKPublic []byte `json:"akPublic"`
	// TPM is what the TPM says of itself; informative, not verified.
	TPM TPMInfo `json:"tpm"`
}

// TPMInfo is the TPM's own account of itself.
type TPMInfo struct {
	Manufacturer    string `json:"manufacturer,omitempty"`
	VendorString    string `json:"vendorString,omitempty"`
	FirmwareVersion string `json:"firmwareVersion,omitempty"`
}

// Challenge is the CA's answer to a Request.
type Challenge struct {
	Version int `json:"version"`
	// ID names the pending challenge in the CA folder (32 hex digits).
	ID string `json:"id"`
	// EKKind is the EK the credential is for.
	EKKind string `json:"ekKind"`
	// CredentialBlob and Secret are TPM2_MakeCredential's outputs.
	CredentialBlob []byte    `json:"credentialBlob"`
	Secret         []byte    `json:"secret"`
	Expires        time.Time `json:"expires"`
}

// Response is the runner's answer to a Challenge.
type Response struct {
	Version int    `json:"version"`
	ID      string `json:"id"`
	// Credential is the secret TPM2_ActivateCredential released.
	Credential []byte `json:"credential"`
}

// decode reads one message of at most MaxMessageSize bytes, rejecting
// unknown fields and trailing data.
func decode(r io.Reader, what string, v any) error {
	b, err := io.ReadAll(io.LimitReader(r, MaxMessageSize+1))
	if err != nil {
		return fmt.Errorf("reading %s: %w", what, err)
	}
	if len(b) > MaxMessageSize {
		return fmt.Errorf("%w: %s larger than %d bytes", ErrMalformed, what, MaxMessageSize)
	}
	return unmarshal(b, what, v)
}

func unmarshal(b []byte, what string, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrMalformed, what, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: %s: data after the JSON document (byte %d)", ErrMalformed, what, dec.InputOffset())
	}
	return nil
}

// ReadRequest reads and checks the form of a Request.
func ReadRequest(r io.Reader) (*Request, error) {
	var q Request
	if err := decode(r, "enrollment request", &q); err != nil {
		return nil, err
	}
	switch {
	case q.Version != Version:
		return nil, fmt.Errorf("%w: enrollment request: version %d, want %d", ErrMalformed, q.Version, Version)
	case len(q.EKCertificates) > maxEKCerts:
		return nil, fmt.Errorf("%w: enrollment request: ekCertificates: %d, at most %d", ErrMalformed, len(q.EKCertificates), maxEKCerts)
	case len(q.EKPublic) == 0 || len(q.EKPublic) > maxPublicSize:
		return nil, fmt.Errorf("%w: enrollment request: ekPublic: %d bytes, want 1 to %d", ErrMalformed, len(q.EKPublic), maxPublicSize)
	case len(q.AKPublic) == 0 || len(q.AKPublic) > maxPublicSize:
		return nil, fmt.Errorf("%w: enrollment request: akPublic: %d bytes, want 1 to %d", ErrMalformed, len(q.AKPublic), maxPublicSize)
	}
	return &q, nil
}

// ReadChallenge reads and checks the form of a Challenge.
func ReadChallenge(r io.Reader) (*Challenge, error) {
	var c Challenge
	if err := decode(r, "challenge", &c); err != nil {
		return nil, err
	}
	switch {
	case c.Version != Version:
		return nil, fmt.Errorf("%w: challenge: version %d, want %d", ErrMalformed, c.Version, Version)
	case !validID(c.ID):
		return nil, fmt.Errorf("%w: challenge: id %q is not 32 hex digits", ErrMalformed, c.ID)
	case len(c.CredentialBlob) == 0 || len(c.CredentialBlob) > maxCredential:
		return nil, fmt.Errorf("%w: challenge: credentialBlob: %d bytes, want 1 to %d", ErrMalformed, len(c.CredentialBlob), maxCredential)
	case len(c.Secret) == 0 || len(c.Secret) > maxCredential:
		return nil, fmt.Errorf("%w: challenge: secret: %d bytes, want 1 to %d", ErrMalformed, len(c.Secret), maxCredential)
	}
	return &c, nil
}

// ReadResponse reads and checks the form of a Response.
func ReadResponse(r io.Reader) (*Response, error) {
	var s Response
	if err := decode(r, "challenge response", &s); err != nil {
		return nil, err
	}
	switch {
	case s.Version != Version:
		return nil, fmt.Errorf("%w: challenge response: version %d, want %d", ErrMalformed, s.Version, Version)
	case !validID(s.ID):
		return nil, fmt.Errorf("%w: challenge response: id %q is not 32 hex digits", ErrMalformed, s.ID)
	case len(s.Credential) == 0 || len(s.Credential) > 64:
		return nil, fmt.Errorf("%w: challenge response: credential: %d bytes, want 1 to 64", ErrMalformed, len(s.Credential))
	}
	return &s, nil
}

func validID(id string) bool {
	b, err := hex.DecodeString(id)
	return err == nil && len(b) == 16 && hex.EncodeToString(b) == id
}
