package provenance

import (
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// keyFingerprint is "sha256:" and the hex SHA-256 of the key's PKIX DER.
// TODO(merge): replace with the build branch's KeyFingerprint once in main.
func keyFingerprint(pub crypto.PublicKey) (string, error) {
	der, err := cryptoutils.MarshalPublicKeyToDER(pub)
	if err != nil {
		return "", fmt.Errorf("encoding public key for its fingerprint: %w", err)
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}
