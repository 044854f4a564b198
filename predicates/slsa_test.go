package predicates

import (
	"strings"
	"testing"
)

// TestByproductsAttestationKey: the AK fingerprint becomes a byproduct
// digest only when it is a well-formed sha256 digest (go-digest's parse).
func TestByproductsAttestationKey(t *testing.T) {
	hexFP := strings.Repeat("ab", 32)
	for fp, want := range map[string]string{
		"sha256:" + hexFP:                    hexFP,
		"sha256:" + strings.ToUpper(hexFP):   "",
		"sha256:" + hexFP[:62]:               "",
		"sha256:" + hexFP + "\n":             "",
		"sha384:" + strings.Repeat("ab", 48): "",
		hexFP:                                "",
		"sha256:" + hexFP[:63] + "g":         "",
		"":                                   "",
	} {
		got := ""
		for _, rd := range Byproducts([]byte("{}"), &TPMIMA{AttestationKey: AttestationKey{Fingerprint: fp}}) {
			if rd.GetName() == "tpm-attestation-key" {
				got = rd.GetDigest()["sha256"]
			}
		}
		if got != want {
			t.Errorf("fingerprint %q: byproduct digest %q, want %q", fp, got, want)
		}
	}
}
