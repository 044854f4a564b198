package tpm

import (
	"crypto/sha256"
	"testing"
)

// Benchmarks: go test -tags simulator -run '^$' -bench . -benchtime 200x ./tpm/
// Figures in docs/benchmarks.md.

func benchQuote(b *testing.B, tp *TPM, alg AKAlg) {
	ak, err := tp.EnsureAK(AKOptions{Alg: alg})
	if err != nil {
		b.Fatal(err)
	}
	sel, err := ParsePCRSelection(DefaultPCRSelection)
	if err != nil {
		b.Fatal(err)
	}
	nonce := sha256.Sum256([]byte("bench"))
	b.ResetTimer()
	for b.Loop() {
		if _, err := tp.Quote(ak, sel, nonce[:]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQuote: TPM2_PCR_Read (2 calls for 11 PCRs) + TPM2_Quote + the
// local check, sha256:0-10.
func BenchmarkQuote(b *testing.B) {
	for _, be := range backends {
		for _, alg := range []AKAlg{AKECCP256, AKRSA2048} {
			b.Run(be.name+"/"+string(alg), func(b *testing.B) {
				benchQuote(b, be.open(b), alg)
			})
		}
	}
}

// BenchmarkVerifyQuote: the pure-Go verifier on real quotes.
func BenchmarkVerifyQuote(b *testing.B) {
	for _, q := range loadRealQuotes(b) {
		switch q.name {
		case "vm-debian12-swtpm", "go-tpm-tools/gce-cos-85-nonce9009.pb/sha256", "go-attestation/gcp-shielded-vm":
		default:
			continue
		}
		b.Run(q.name, func(b *testing.B) {
			opts := VerifyOptions{Nonce: q.nonce, PCRs: q.pcrs}
			for b.Loop() {
				if _, err := VerifyQuote(q.attest, q.sig, q.ak, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReferenceSignatureOnly is the floor VerifyQuote is measured
// against in the same run: the signature check alone (decode TPMT_SIGNATURE,
// hash, ECDSA or RSA verify), no TPMS_ATTEST decoding and no PCR digest.
func BenchmarkReferenceSignatureOnly(b *testing.B) {
	for _, q := range loadRealQuotes(b) {
		switch q.name {
		case "vm-debian12-swtpm", "go-tpm-tools/gce-cos-85-nonce9009.pb/sha256", "go-attestation/gcp-shielded-vm":
		default:
			continue
		}
		b.Run(q.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := verifySignature(q.ak, q.attest, q.sig); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
