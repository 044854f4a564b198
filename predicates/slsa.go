package predicates

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"

	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/opencontainers/go-digest"
)

// BuildType is the SLSA buildType of a command run by attest-build. Its
// externalParameters are {"argv": [...], "workingDirectory": "..."}; its
// internalParameters are {"tpm": {"mode", "pcrs"}, "imaLog": path} and, in
// CI, "github" or "gitlab". See docs/attestation.md.
const BuildType = "https://github.com/attest-build/attest-build/buildtypes/command/v0.1"

// BuilderIDBase is the prefix of attest-build's default SLSA builder ids,
// one per TPM mode ("tpm-MODE/v0.1"): a run on a simulated or software TPM
// can never pass for a hardware one.
const BuilderIDBase = "https://github.com/attest-build/attest-build/builders/"

// BuilderIDMode returns the TPM mode a builder id names, the inverse of
// BuilderID: BuilderIDBase + "tpm-MODE/v0.1", or a custom absolute URI
// with the fragment "#MODE". A verifier requires it to equal the
// predicate's tpm.mode, so that the three places a signer writes the mode
// agree (which still leaves the mode the signer's word).
func BuilderIDMode(id string) (string, error) {
	for _, mode := range []string{ModeDevice, ModeSwtpm, ModeSim} {
		if id == BuilderIDBase+"tpm-"+mode+"/v0.1" {
			return mode, nil
		}
	}
	if strings.HasPrefix(id, BuilderIDBase) {
		return "", fmt.Errorf("builder id %q: not one of attest-build's (%stpm-MODE/v0.1)", id, BuilderIDBase)
	}
	base, mode, ok := strings.Cut(id, "#")
	switch mode {
	case ModeDevice, ModeSwtpm, ModeSim:
	default:
		return "", fmt.Errorf("builder id %q: no TPM mode fragment (#device, #swtpm or #sim)", id)
	}
	if u, err := url.Parse(base); !ok || err != nil || !u.IsAbs() || strings.Contains(base, "#") {
		return "", fmt.Errorf("builder id %q: not an absolute URI with a mode fragment", id)
	}
	return mode, nil
}

// Byproducts names the TPM/IMA evidence by digest for the SLSA statement's
// runDetails.byproducts: the TPM/IMA statement's payload bytes, the AK's
// fingerprint, the uncompressed log's SHA-256 and each quote's TPMS_ATTEST.
// A builder writes them; a verifier compares them with the evidence it was
// given, so that the TPM/IMA statement of one build cannot travel with the
// SLSA statement of another.
func Byproducts(tpmStatement []byte, p *TPMIMA) []*intoto.ResourceDescriptor {
	return ByproductsOfDigest(sha256.Sum256(tpmStatement), p)
}

// ByproductsOfDigest is Byproducts given the SHA-256 of the TPM/IMA
// statement's payload bytes, for a caller that hashed them already.
func ByproductsOfDigest(sum [sha256.Size]byte, p *TPMIMA) []*intoto.ResourceDescriptor {
	out := []*intoto.ResourceDescriptor{{
		Name:      "tpm-ima-statement",
		Digest:    map[string]string{"sha256": hex.EncodeToString(sum[:])},
		MediaType: PayloadType,
	}}
	if fp, err := digest.Parse(p.AttestationKey.Fingerprint); err == nil && fp.Algorithm() == digest.SHA256 {
		out = append(out, &intoto.ResourceDescriptor{Name: "tpm-attestation-key", Digest: map[string]string{"sha256": fp.Encoded()}})
	}
	if p.IMA.Log != nil {
		out = append(out, &intoto.ResourceDescriptor{
			Name:      "ima-log",
			Digest:    map[string]string{"sha256": p.IMA.Log.SHA256},
			MediaType: "application/octet-stream",
		})
	}
	if b := p.IMA.Baseline; b != nil {
		if d, ok := strings.CutPrefix(b.Digest, "sha256:"); ok {
			out = append(out, &intoto.ResourceDescriptor{Name: "ima-baseline", Digest: map[string]string{"sha256": d}, MediaType: PayloadType})
		}
	}
	if p.BootLog != nil && p.BootLog.Present {
		out = append(out, &intoto.ResourceDescriptor{
			Name:      "boot-log",
			Digest:    map[string]string{"sha256": p.BootLog.SHA256},
			MediaType: "application/octet-stream",
		})
	}
	for _, q := range []struct {
		name string
		q    Quote
	}{{"tpm-quote-start", p.Quotes.Start}, {"tpm-quote-end", p.Quotes.End}} {
		h := sha256.Sum256(bytes.Clone(q.q.Attest))
		out = append(out, &intoto.ResourceDescriptor{Name: q.name, Digest: map[string]string{"sha256": hex.EncodeToString(h[:])}})
	}
	return out
}
