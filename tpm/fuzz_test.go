package tpm

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
)

// FuzzParseAttest: TPMS_ATTEST decoding never panics, and what decodes
// re-checks consistently.
func FuzzParseAttest(f *testing.F) {
	for _, q := range loadRealQuotes(f) {
		f.Add(q.attest)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := parseAttest(b)
		if err != nil || a.magic != tpmGenerated || a.typ != tpmSTAttestQuote {
			return
		}
		n := 0
		for _, bank := range a.selection {
			n += len(bank.Indices)
		}
		if n != len(a.slots) {
			t.Fatalf("selection has %d PCRs, slots %d", n, len(a.slots))
		}
		if _, err := ParsePCRSelection(a.selection.String()); err != nil && n > 0 && maxIndex(a.selection) < NumPCRs {
			t.Fatalf("decoded selection %s does not parse back: %v", a.selection, err)
		}
	})
}

func maxIndex(s PCRSelection) int {
	m := 0
	for _, b := range s {
		m = max(m, b.Indices[len(b.Indices)-1])
	}
	return m
}

// FuzzVerifyQuote: the whole verifier on arbitrary attest and signature
// bytes never panics and never accepts them under an unrelated key.
func FuzzVerifyQuote(f *testing.F) {
	for _, q := range loadRealQuotes(f) {
		f.Add(q.attest, q.sig)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, attest, sig []byte) {
		if vq, err := VerifyQuote(attest, sig, &k.PublicKey, VerifyOptions{}); err == nil {
			t.Fatalf("accepted under an unrelated key: %+v", vq)
		}
	})
}

// FuzzVerifySignedQuote: arbitrary attest bytes signed by the AK, so the
// checks after the signature (decoding, type, nonce, PCR selection and
// digest) see fuzzed bytes. The PCR values given are cut from pcrBytes in
// the decoded selection's order (zero-padded). Seeds are the real quotes
// with their nonce and PCR values, which pass every check. What verifies
// must be what was given: the nonce, and values hashing to pcrDigest.
func FuzzVerifySignedQuote(f *testing.F) {
	for _, q := range loadRealQuotes(f) {
		vq, err := VerifyQuote(q.attest, q.sig, q.ak, VerifyOptions{Nonce: q.nonce, PCRs: q.pcrs})
		if err != nil {
			f.Fatalf("%s: %v", q.name, err)
		}
		var values []byte
		for _, v := range vq.PCRs {
			values = append(values, v.Value...)
		}
		f.Add(q.attest, q.nonce, values)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, attest, nonce, pcrBytes []byte) {
		var pcrs []PCRValue
		if a, err := parseAttest(attest); err == nil {
			for _, sl := range a.slots {
				v := make([]byte, sl.hash.Size())
				pcrBytes = pcrBytes[copy(v, pcrBytes):]
				pcrs = append(pcrs, PCRValue{Bank: sl.bank, Index: sl.index, Value: v})
			}
		}
		vq, err := VerifyQuote(attest, signSoft(t, k, attest), &k.PublicKey, VerifyOptions{Nonce: nonce, PCRs: pcrs})
		if err != nil {
			return
		}
		if !bytes.Equal(vq.ExtraData, nonce) || len(vq.PCRs) != len(pcrs) || !bytes.Equal(pcrDigest(vq.SignatureHash, vq.PCRs), vq.PCRDigest) {
			t.Fatalf("verified %+v for nonce %x and %d PCR values", vq, nonce, len(pcrs))
		}
	})
}

// FuzzParseAKPublic: TPMT_PUBLIC parsing never panics; what parses has a
// PEM encoding and a fingerprint.
func FuzzParseAKPublic(f *testing.F) {
	// The GCE shielded VM's AK (testdata/quotes/go-attestation).
	f.Add(mustB64(f, "AAEACwAFBHIAIJ3/y/NsODrmmfuYaNxty4nXFTiEvigDkiwSQVi/rSKuABAAFAAECAAAAAAAAQDGp8kViXRjbtQShAo1UlsWVsnLJXYCnnsgbdCRN6KDBJPLtv5+vCqAS9Yk2I9t92UsPY1CJoVOAX85/WrNv6PnE1feQ0F9/VEyxYHFA2RAuKkWjNBgGGOYskKKI/2L+R+A1s5mNBmkpjyx6WDm2xGyBbQQP28oVdpBcLbohihowYvUwGnLh7g0sRN51S1KDrh1rP4sfKHFEn9r0aGlhrsOEbEAwQtB6XfLm1IBLQLVciRS5/HjM3EiH3doqZy2FpcE6G7nGKxAwk2H8MnEL7dOsdhXBBH1obLSUB7DYKnMhFaJuf2uAB0gPCjFt+Elou+g7MlMoJ38RPIG7HE1uQ2b"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pub, err := ParseAKPublic(b)
		if err != nil {
			return
		}
		if _, err := Fingerprint(pub); err != nil {
			t.Fatalf("parsed key has no fingerprint: %v", err)
		}
		if _, err := PublicKeyPEM(pub); err != nil {
			t.Fatalf("parsed key has no PEM: %v", err)
		}
	})
}

// FuzzVerifySignedCertify: arbitrary certifyInfo bytes signed by the AK,
// so the checks after the signature (type, qualifyingData, certified name,
// the key's attributes) see fuzzed bytes. What verifies must name exactly
// the given key and nonce.
func FuzzVerifySignedCertify(f *testing.F) {
	f.Add([]byte{0xff, 0x54, 0x43, 0x47, 0x80, 0x17, 0, 0, 0, 0}, []byte{0, 0x23}, []byte{1})
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, attest, keyPublic, nonce []byte) {
		pub, err := VerifyCertify(attest, signSoft(t, k, attest), &k.PublicKey, keyPublic, nonce)
		if err != nil {
			return
		}
		name, nerr := ObjectName(keyPublic)
		want, perr := ParseSigningKeyPublic(keyPublic)
		if nerr != nil || perr != nil || !bytes.Contains(attest, name) || !bytes.Contains(attest, nonce) || !want.Equal(pub) {
			t.Fatalf("verified a certification of another key or nonce: %x", attest)
		}
	})
}
