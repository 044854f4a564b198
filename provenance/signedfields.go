package provenance

import (
	"fmt"
	"net/url"
	"strings"

	intoto "github.com/in-toto/attestation/go/v1"

	"github.com/attest-build/attest-build/predicates"
)

// BuilderIDMode returns the TPM mode a builder id names, the inverse of
// BuilderID: builderIDBase + "tpm-MODE/v0.1", or a custom absolute URI
// with the fragment "#MODE". A verifier requires it to equal the
// predicate's tpm.mode, so that the three places a signer writes the mode
// agree (which still leaves the mode the signer's word).
func BuilderIDMode(id string) (string, error) {
	for _, mode := range []string{predicates.ModeDevice, predicates.ModeSwtpm, predicates.ModeSim} {
		if id == builderIDBase+"tpm-"+mode+"/v0.1" {
			return mode, nil
		}
	}
	if strings.HasPrefix(id, builderIDBase) {
		return "", fmt.Errorf("builder id %q: not one of attest-build's (%stpm-MODE/v0.1)", id, builderIDBase)
	}
	base, mode, ok := strings.Cut(id, "#")
	switch mode {
	case predicates.ModeDevice, predicates.ModeSwtpm, predicates.ModeSim:
	default:
		return "", fmt.Errorf("builder id %q: no TPM mode fragment (#device, #swtpm or #sim)", id)
	}
	if u, err := url.Parse(base); !ok || err != nil || !u.IsAbs() || strings.Contains(base, "#") {
		return "", fmt.Errorf("builder id %q: not an absolute URI with a mode fragment", id)
	}
	return mode, nil
}

// ExpectedByproducts returns the SLSA byproducts an attestation with this
// TPM/IMA statement (its payload bytes) and predicate must carry: the ones
// the build wrote (byproducts), for a verifier to compare with what it was
// given.
func ExpectedByproducts(tpmStatement []byte, p *predicates.TPMIMA) []*intoto.ResourceDescriptor {
	return byproducts(tpmStatement, p)
}
