package tpm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

func TestVerifyRealQuotes(t *testing.T) {
	for _, q := range loadRealQuotes(t) {
		t.Run(q.name, func(t *testing.T) {
			vq, err := VerifyQuote(q.attest, q.sig, q.ak, VerifyOptions{Nonce: q.nonce, PCRs: q.pcrs})
			if err != nil {
				t.Fatalf("VerifyQuote: %v", err)
			}
			if !bytes.Equal(vq.ExtraData, q.nonce) {
				t.Errorf("ExtraData %x, want %x", vq.ExtraData, q.nonce)
			}
			if len(vq.PCRs) != len(q.pcrs) {
				t.Fatalf("%d verified PCRs, want %d", len(vq.PCRs), len(q.pcrs))
			}
			for _, v := range vq.PCRs {
				if !vq.Selection.Contains(v.Bank, v.Index) {
					t.Errorf("verified PCR %s not in selection %s", v, vq.Selection)
				}
			}
		})
	}
}

// TestVerifyRealQuotesTampered changes one input at a time and expects the
// exact check that covers it to fail.
func TestVerifyRealQuotesTampered(t *testing.T) {
	flip := func(b []byte, i int) []byte { c := bytes.Clone(b); c[i] ^= 0x01; return c }
	for _, q := range loadRealQuotes(t) {
		t.Run(q.name, func(t *testing.T) {
			type tc struct {
				what        string
				attest, sig []byte
				nonce       []byte
				pcrs        []PCRValue
				want        error
			}
			var cases []tc
			for i := range q.attest {
				cases = append(cases, tc{"attest byte", flip(q.attest, i), q.sig, q.nonce, q.pcrs, ErrSignature})
			}
			for i := range q.sig {
				cases = append(cases, tc{"signature byte", q.attest, flip(q.sig, i), q.nonce, q.pcrs, ErrSignature})
			}
			if len(q.nonce) > 0 {
				for i := range q.nonce {
					cases = append(cases, tc{"nonce byte", q.attest, q.sig, flip(q.nonce, i), q.pcrs, ErrNonce})
				}
			}
			cases = append(cases, tc{"signature + 0x00", q.attest, append(bytes.Clone(q.sig), 0), q.nonce, q.pcrs, ErrSignature})
			cases = append(cases, tc{"nonce longer", q.attest, q.sig, append(bytes.Clone(q.nonce), 0), q.pcrs, ErrNonce})
			for i := range q.pcrs {
				for _, at := range []int{0, len(q.pcrs[i].Value) - 1} {
					p := clonePCRs(q.pcrs)
					p[i].Value[at] ^= 0x80
					cases = append(cases, tc{"PCR " + p[i].String(), q.attest, q.sig, q.nonce, p, ErrPCRDigest})
				}
			}
			cases = append(cases,
				tc{"PCR missing", q.attest, q.sig, q.nonce, clonePCRs(q.pcrs)[1:], ErrPCRSelection},
				tc{"PCR not selected", q.attest, q.sig, q.nonce, append(clonePCRs(q.pcrs), PCRValue{"sha512", 23, make([]byte, 64)}), ErrPCRSelection},
				tc{"PCR twice", q.attest, q.sig, q.nonce, append(clonePCRs(q.pcrs), q.pcrs[0]), ErrPCRSelection},
			)
			for _, c := range cases {
				vq, err := VerifyQuote(c.attest, c.sig, q.ak, VerifyOptions{Nonce: c.nonce, PCRs: c.pcrs})
				if !errors.Is(err, c.want) || vq != nil {
					t.Fatalf("%s: got (%v, %v), want error %v and no result", c.what, vq, err, c.want)
				}
			}
		})
	}
}

func clonePCRs(in []PCRValue) []PCRValue {
	out := make([]PCRValue, len(in))
	for i, v := range in {
		out[i] = PCRValue{Bank: v.Bank, Index: v.Index, Value: bytes.Clone(v.Value)}
	}
	return out
}

func TestVerifyMismatchErrorCarriesValues(t *testing.T) {
	q := loadRealQuotes(t)[0]
	_, err := VerifyQuote(q.attest, q.sig, q.ak, VerifyOptions{Nonce: []byte{1, 2}, PCRs: q.pcrs})
	var me *MismatchError
	if !errors.As(err, &me) || me.Check != ErrNonce || me.Expected != "0102" || me.Found != "456d00725d22a0c472ada5e54ae459422156cd7d" {
		t.Fatalf("got %#v (%v), want a nonce MismatchError with expected 0102 and the quote's nonce", me, err)
	}
	bad := clonePCRs(q.pcrs)
	bad[0].Value[0] ^= 1
	_, err = VerifyQuote(q.attest, q.sig, q.ak, VerifyOptions{Nonce: q.nonce, PCRs: bad})
	if !errors.As(err, &me) || me.Check != ErrPCRDigest || len(me.Expected) != 64 || len(me.Found) != 64 || me.Expected == me.Found {
		t.Fatalf("got %#v (%v), want a pcrDigest MismatchError with two sha256 hex values", me, err)
	}
}

// TestVerifyRSAKeySize: a real quote's attest bytes signed (RSASSA-SHA256)
// by a 2048-bit software key verify; signed by a 1024-bit key they fail
// with ErrSignature (VerifyQuote wants RSA keys of at least 2048 bits).
func TestVerifyRSAKeySize(t *testing.T) {
	q := loadRealQuotes(t)[0]
	for _, c := range []struct {
		bits int
		want error
	}{{2048, nil}, {1024, ErrSignature}} {
		k, err := rsa.GenerateKey(rand.Reader, c.bits)
		if err != nil {
			t.Fatal(err)
		}
		d := sha256.Sum256(q.attest)
		raw, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d[:])
		if err != nil {
			t.Fatal(err)
		}
		sig := tpm2.Marshal(&tpm2.TPMTSignature{SigAlg: tpm2.TPMAlgRSASSA, Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgRSASSA,
			&tpm2.TPMSSignatureRSA{Hash: tpm2.TPMAlgSHA256, Sig: tpm2.TPM2BPublicKeyRSA{Buffer: raw}})})
		vq, err := VerifyQuote(q.attest, sig, &k.PublicKey, VerifyOptions{Nonce: q.nonce, PCRs: q.pcrs})
		if !errors.Is(err, c.want) || (c.want != nil) != (vq == nil) {
			t.Errorf("RSA-%d: got (%v, %v), want error %v", c.bits, vq, err, c.want)
		}
	}
}

func TestVerifyWrongKey(t *testing.T) {
	qs := loadRealQuotes(t)
	for i, q := range qs {
		// The next quote made by a different key.
		own, _ := Fingerprint(q.ak)
		other := q.ak
		for j := 1; j < len(qs); j++ {
			if f, _ := Fingerprint(qs[(i+j)%len(qs)].ak); f != own {
				other = qs[(i+j)%len(qs)].ak
				break
			}
		}
		if _, err := VerifyQuote(q.attest, q.sig, other, VerifyOptions{Nonce: q.nonce, PCRs: q.pcrs}); !errors.Is(err, ErrSignature) {
			t.Errorf("%s with another quote's AK: %v, want ErrSignature", q.name, err)
		}
	}
	q := qs[0]
	if _, err := VerifyQuote(q.attest, q.sig, nil, VerifyOptions{Nonce: q.nonce, PCRs: q.pcrs}); !errors.Is(err, ErrSignature) {
		t.Errorf("nil AK: %v, want ErrSignature", err)
	}
}

// softQuote builds a TPMS_ATTEST-like structure and signs it with a software
// key, to reach the checks after the signature with bytes no TPM would sign.
type softQuote struct {
	magic   uint32
	typ     uint16
	nonce   []byte
	sel     []byte // TPML_PCR_SELECTION bytes
	digest  []byte
	trailer []byte
}

func (s softQuote) bytes() []byte {
	var b []byte
	b = binary.BigEndian.AppendUint32(b, s.magic)
	b = binary.BigEndian.AppendUint16(b, s.typ)
	b = append(b, 0, 0) // qualifiedSigner
	b = binary.BigEndian.AppendUint16(b, uint16(len(s.nonce)))
	b = append(b, s.nonce...)
	b = append(b, make([]byte, 17)...) // clockInfo
	b = append(b, make([]byte, 8)...)  // firmwareVersion
	b = append(b, s.sel...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(s.digest)))
	b = append(b, s.digest...)
	return append(b, s.trailer...)
}

func signSoft(t testing.TB, k *ecdsa.PrivateKey, msg []byte) []byte {
	t.Helper()
	d := sha256.Sum256(msg)
	r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return tpm2.Marshal(&tpm2.TPMTSignature{SigAlg: tpm2.TPMAlgECDSA, Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgECDSA,
		&tpm2.TPMSSignatureECC{Hash: tpm2.TPMAlgSHA256, SignatureR: tpm2.TPM2BECCParameter{Buffer: r.Bytes()}, SignatureS: tpm2.TPM2BECCParameter{Buffer: s.Bytes()}})})
}

func TestVerifyChecksAfterSignature(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pcr := PCRValue{"sha256", 10, bytes.Repeat([]byte{7}, 32)}
	sel := []byte{0, 0, 0, 1, 0, 0x0b, 3, 0, 4, 0} // sha256:10
	d := sha256.Sum256(pcr.Value)
	good := softQuote{magic: tpmGenerated, typ: tpmSTAttestQuote, nonce: []byte("n"), sel: sel, digest: d[:]}
	for _, c := range []struct {
		name string
		q    softQuote
		cut  int
		want error
	}{
		{"valid", good, 0, nil},
		{"magic", softQuote{0xff544348, good.typ, good.nonce, sel, good.digest, nil}, 0, ErrNotQuote},
		{"certify type", softQuote{good.magic, 0x8017, good.nonce, sel, good.digest, nil}, 0, ErrNotQuote},
		{"trailing byte", softQuote{good.magic, good.typ, good.nonce, sel, good.digest, []byte{0}}, 0, ErrMalformed},
		{"truncated digest", good, 1, ErrMalformed},
		{"truncated header", good, 70, ErrMalformed},
		{"unknown bank", softQuote{good.magic, good.typ, good.nonce, []byte{0, 0, 0, 1, 0, 0x12, 3, 0, 4, 0}, good.digest, nil}, 0, ErrMalformed},
		{"bank twice", softQuote{good.magic, good.typ, good.nonce, []byte{0, 0, 0, 2, 0, 0x0b, 3, 0, 4, 0, 0, 0x0b, 3, 0, 4, 0}, good.digest, nil}, 0, ErrMalformed},
		{"huge selection count", softQuote{good.magic, good.typ, good.nonce, []byte{0xff, 0xff, 0xff, 0xff}, good.digest, nil}, 0, ErrMalformed},
	} {
		t.Run(c.name, func(t *testing.T) {
			msg := c.q.bytes()
			msg = msg[:len(msg)-c.cut]
			vq, err := VerifyQuote(msg, signSoft(t, k, msg), &k.PublicKey, VerifyOptions{Nonce: []byte("n"), PCRs: []PCRValue{pcr}})
			if c.want == nil {
				if err != nil || vq == nil || vq.Selection.String() != "sha256:10" || vq.SignatureHash != crypto.SHA256 {
					t.Fatalf("got (%+v, %v), want a verified quote over sha256:10", vq, err)
				}
				return
			}
			if !errors.Is(err, c.want) || vq != nil {
				t.Fatalf("got (%v, %v), want %v", vq, err, c.want)
			}
		})
	}
}

// TestVerifySignatureSchemes covers the schemes no real quote in testdata
// uses: ECDSA P-384 with SHA-384 and RSAPSS with SHA-256.
func TestVerifySignatureSchemes(t *testing.T) {
	pcr := PCRValue{"sha256", 10, bytes.Repeat([]byte{7}, 32)}
	sel := []byte{0, 0, 0, 1, 0, 0x0b, 3, 0, 4, 0}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		h    crypto.Hash
		pub  crypto.PublicKey
		sign func(msg []byte) []byte
	}{
		{"ecdsa-p384-sha384", crypto.SHA384, &p384.PublicKey, func(msg []byte) []byte {
			d := sha512.Sum384(msg)
			r, s, err := ecdsa.Sign(rand.Reader, p384, d[:])
			if err != nil {
				t.Fatal(err)
			}
			return tpm2.Marshal(&tpm2.TPMTSignature{SigAlg: tpm2.TPMAlgECDSA, Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgECDSA,
				&tpm2.TPMSSignatureECC{Hash: tpm2.TPMAlgSHA384, SignatureR: tpm2.TPM2BECCParameter{Buffer: r.Bytes()}, SignatureS: tpm2.TPM2BECCParameter{Buffer: s.Bytes()}})})
		}},
		{"rsapss-sha256", crypto.SHA256, &rk.PublicKey, func(msg []byte) []byte {
			d := sha256.Sum256(msg)
			sig, err := rsa.SignPSS(rand.Reader, rk, crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
			if err != nil {
				t.Fatal(err)
			}
			return tpm2.Marshal(&tpm2.TPMTSignature{SigAlg: tpm2.TPMAlgRSAPSS, Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgRSAPSS,
				&tpm2.TPMSSignatureRSA{Hash: tpm2.TPMAlgSHA256, Sig: tpm2.TPM2BPublicKeyRSA{Buffer: sig}})})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			hh := c.h.New()
			hh.Write(pcr.Value)
			msg := softQuote{magic: tpmGenerated, typ: tpmSTAttestQuote, nonce: []byte("n"), sel: sel, digest: hh.Sum(nil)}.bytes()
			sig := c.sign(msg)
			vq, err := VerifyQuote(msg, sig, c.pub, VerifyOptions{Nonce: []byte("n"), PCRs: []PCRValue{pcr}})
			if err != nil || vq.SignatureHash != c.h {
				t.Fatalf("got (%+v, %v), want a quote verified with %v", vq, err, c.h)
			}
			msg[len(msg)-1] ^= 1
			if _, err := VerifyQuote(msg, sig, c.pub, VerifyOptions{Nonce: []byte("n"), PCRs: []PCRValue{pcr}}); !errors.Is(err, ErrSignature) {
				t.Fatalf("changed attest: %v, want ErrSignature", err)
			}
		})
	}
}
