package provenance

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/attest-build/attest-build/predicates"
)

// BundleMediaType is the mediaType of the Sigstore bundles attest-build
// writes (--bundle).
const BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// BundleSuffix ends the name of every bundle file.
const BundleSuffix = ".sigstore.json"

// DetachedLogSuffix ends the name of a detached IMA log (--detach-log).
const DetachedLogSuffix = ".ima.binary_runtime_measurements"

// attestationSuffix ends the default attestation file name.
const attestationSuffix = ".intoto.jsonl"

// predicateShortNames name each statement's bundle file.
var predicateShortNames = map[string]string{
	predicates.TPMIMAType:         "tpm-ima",
	predicates.SLSAProvenanceType: "slsa",
}

// sidePath returns output's name without ".intoto.jsonl", plus suffix.
func sidePath(output, suffix string) string {
	return strings.TrimSuffix(output, attestationSuffix) + suffix
}

// BundlePath returns the bundle file of the statement of predicateType
// beside the attestation output: "<output without .intoto.jsonl>.tpm-ima"
// or ".slsa", then BundleSuffix ("app.tar.slsa.sigstore.json").
func BundlePath(output, predicateType string) (string, error) {
	short, ok := predicateShortNames[predicateType]
	if !ok {
		return "", fmt.Errorf("bundle name: unknown predicateType %q", predicateType)
	}
	return sidePath(output, "."+short+BundleSuffix), nil
}

// DetachedLogPath returns the detached IMA log's file beside the attestation
// output: "<output without .intoto.jsonl>" + DetachedLogSuffix.
func DetachedLogPath(output string) string { return sidePath(output, DetachedLogSuffix) }

// MarshalBundle wraps one signed DSSE envelope (a line of the attestation
// file, as SignStatement returns it) in a Sigstore bundle v0.3: the same
// envelope, the signer's public key as verification material (its hint the
// base64 SHA-256 of the PKIX DER key, as cosign writes it) and no
// transparency-log entry or timestamp. A verifier is given the key (cosign
// verify-blob-attestation --key K --insecure-ignore-tlog, or sigstore-go
// with trusted public-key material).
func MarshalBundle(envelope []byte, pub crypto.PublicKey) ([]byte, error) {
	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     []byte `json:"payload"`
		Signatures  []struct {
			KeyID string `json:"keyid"`
			Sig   []byte `json:"sig"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal(envelope, &env); err != nil {
		return nil, fmt.Errorf("making a Sigstore bundle: the envelope: %w", err)
	}
	if len(env.Signatures) == 0 {
		return nil, fmt.Errorf("making a Sigstore bundle: the envelope has no signature")
	}
	der, err := cryptoutils.MarshalPublicKeyToDER(pub)
	if err != nil {
		return nil, fmt.Errorf("making a Sigstore bundle: %w", err)
	}
	hint := sha256.Sum256(der)
	pe := &protodsse.Envelope{Payload: env.Payload, PayloadType: env.PayloadType}
	for _, s := range env.Signatures {
		pe.Signatures = append(pe.Signatures, &protodsse.Signature{Sig: s.Sig, Keyid: s.KeyID})
	}
	b := &protobundle.Bundle{
		MediaType: BundleMediaType,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_PublicKey{
				PublicKey: &protocommon.PublicKeyIdentifier{Hint: base64.StdEncoding.EncodeToString(hint[:])},
			},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: pe},
	}
	out, err := protojson.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("encoding the Sigstore bundle: %w", err)
	}
	// protojson varies its whitespace on purpose; compact it.
	var buf bytes.Buffer
	if err := json.Compact(&buf, out); err != nil {
		return nil, fmt.Errorf("encoding the Sigstore bundle: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// EnvelopeFromBundle returns the DSSE envelope of a Sigstore bundle (any
// v0.x media type) as one line of JSON, the form of a line of an attestation
// file, for verify. Nothing in the bundle is trusted: the verification
// material and any log entry are ignored (the verifier's keys decide), and
// the envelope is checked like any other.
func EnvelopeFromBundle(bundle []byte) ([]byte, error) {
	var b protobundle.Bundle
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(bundle, &b); err != nil {
		return nil, fmt.Errorf("reading the Sigstore bundle: %w", err)
	}
	if !strings.HasPrefix(b.GetMediaType(), "application/vnd.dev.sigstore.bundle") {
		return nil, fmt.Errorf("reading the Sigstore bundle: mediaType %q is not a Sigstore bundle's", b.GetMediaType())
	}
	env := b.GetDsseEnvelope()
	if env == nil {
		return nil, fmt.Errorf("reading the Sigstore bundle: it holds no DSSE envelope (a message signature is not an attestation)")
	}
	type sig struct {
		KeyID string `json:"keyid"`
		Sig   []byte `json:"sig"`
	}
	out := struct {
		PayloadType string `json:"payloadType"`
		Payload     []byte `json:"payload"`
		Signatures  []sig  `json:"signatures"`
	}{PayloadType: env.GetPayloadType(), Payload: env.GetPayload()}
	for _, s := range env.GetSignatures() {
		out.Signatures = append(out.Signatures, sig{KeyID: s.GetKeyid(), Sig: s.GetSig()})
	}
	return json.Marshal(out)
}

// AttestationBase returns the name an attestation's side files start with
// (BundlePath, DetachedLogPath): the attestation or bundle file's name
// without ".intoto.jsonl", ".tpm-ima.sigstore.json" or ".slsa.sigstore.json".
func AttestationBase(path string) string {
	for _, short := range predicateShortNames {
		if b, ok := strings.CutSuffix(path, "."+short+BundleSuffix); ok {
			return b
		}
	}
	return strings.TrimSuffix(path, attestationSuffix)
}
