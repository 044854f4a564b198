package tpm

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	attestpb "github.com/google/go-tpm-tools/proto/attest"
	tpmpb "github.com/google/go-tpm-tools/proto/tpm"
	"github.com/google/go-tpm/tpm2"
	"google.golang.org/protobuf/proto"
)

// realQuote is a quote made by a real TPM, with everything needed to verify
// it. Provenance of each set: testdata/quotes/README.md.
type realQuote struct {
	name        string
	attest, sig []byte
	ak          crypto.PublicKey
	nonce       []byte
	pcrs        []PCRValue
}

const quotesDir = "../testdata/quotes"

func readFile(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(quotesDir, rel))
	if err != nil {
		t.Fatalf("reading test data: %v", err)
	}
	return b
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil {
		t.Fatalf("hex %q: %v", s, err)
	}
	return b
}

func mustB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64 %q: %v", s, err)
	}
	return b
}

func mustPEMKey(t testing.TB, b []byte) crypto.PublicKey {
	t.Helper()
	k, err := ParseAKPEM(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// readPCRsText reads "bank index hex" lines.
func readPCRsText(t testing.TB, b []byte) []PCRValue {
	t.Helper()
	var out []PCRValue
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			continue
		}
		i, err := strconv.Atoi(f[1])
		if err != nil {
			t.Fatalf("pcrs line %q: %v", sc.Text(), err)
		}
		out = append(out, PCRValue{Bank: f[0], Index: i, Value: mustHex(t, f[2])})
	}
	return out
}

// readTPM2ToolsPCRs reads the PCR file tpm2_quote -o writes: the C structs
// TPML_PCR_SELECTION (16 selections of 8 bytes), a uint32 count and that many
// TPML_DIGEST (8 digests of 2+64 bytes), in the host's (little-endian) order.
func readTPM2ToolsPCRs(t testing.TB, b []byte) []PCRValue {
	t.Helper()
	const selSize, digestsSize = 4 + 16*8, 4 + 8*66
	if len(b) < selSize+4 {
		t.Fatalf("tpm2-tools PCR file: %d bytes", len(b))
	}
	var slots []pcrSlot
	for i := 0; i < int(binary.LittleEndian.Uint32(b)); i++ {
		s := b[4+8*i:]
		name, h, ok := algBank(tpm2AlgID(binary.LittleEndian.Uint16(s)))
		if !ok {
			t.Fatalf("tpm2-tools PCR file: bank 0x%x", binary.LittleEndian.Uint16(s))
		}
		for j := 0; j < int(s[2])*8; j++ {
			if s[3+j/8]&(1<<(j%8)) != 0 {
				slots = append(slots, pcrSlot{bank: name, hash: h, index: j})
			}
		}
	}
	n := int(binary.LittleEndian.Uint32(b[selSize:]))
	var out []PCRValue
	for l := 0; l < n; l++ {
		d := b[selSize+4+l*digestsSize:]
		for k := 0; k < int(binary.LittleEndian.Uint32(d)); k++ {
			e := d[4+66*k:]
			size := binary.LittleEndian.Uint16(e)
			s := slots[len(out)]
			out = append(out, PCRValue{Bank: s.bank, Index: s.index, Value: bytes.Clone(e[2 : 2+size])})
		}
	}
	if len(out) != len(slots) {
		t.Fatalf("tpm2-tools PCR file: %d values for %d PCRs", len(out), len(slots))
	}
	return out
}

func loadRealQuotes(t testing.TB) []realQuote {
	t.Helper()
	var qs []realQuote

	// This project's VM: an ECC P-256 AK quoting sha256:10 through /dev/tpmrm0.
	vmPCRs := readPCRsText(t, readFile(t, "vm-debian12-swtpm/pcrs.txt"))
	var pcr10 []PCRValue
	for _, v := range vmPCRs {
		if v.Bank == "sha256" && v.Index == 10 {
			pcr10 = append(pcr10, v)
		}
	}
	qs = append(qs, realQuote{
		name:   "vm-debian12-swtpm",
		attest: readFile(t, "vm-debian12-swtpm/quote.msg"),
		sig:    readFile(t, "vm-debian12-swtpm/quote.sig"),
		ak:     mustPEMKey(t, readFile(t, "vm-debian12-swtpm/ak.pem")),
		nonce:  mustHex(t, string(readFile(t, "vm-debian12-swtpm/nonce"))),
		pcrs:   pcr10,
	})

	// go-tpm-tools: GCE vTPM attestations, one quote per bank.
	for _, f := range []struct {
		file  string
		nonce []byte
	}{{"gce-cos-85-no-nonce.pb", nil}, {"gce-cos-85-nonce9009.pb", []byte{0x90, 0x09}}} {
		var a attestpb.Attestation
		if err := proto.Unmarshal(readFile(t, "go-tpm-tools/"+f.file), &a); err != nil {
			t.Fatalf("%s: %v", f.file, err)
		}
		ak, err := ParseAKPublic(a.GetAkPub())
		if err != nil {
			t.Fatalf("%s: %v", f.file, err)
		}
		for _, q := range a.GetQuotes() {
			bank := map[tpmpb.HashAlgo]string{tpmpb.HashAlgo_SHA1: "sha1", tpmpb.HashAlgo_SHA256: "sha256", tpmpb.HashAlgo_SHA384: "sha384", tpmpb.HashAlgo_SHA512: "sha512"}[q.GetPcrs().GetHash()]
			var idx []int
			for i := range q.GetPcrs().GetPcrs() {
				idx = append(idx, int(i))
			}
			sort.Ints(idx)
			var pcrs []PCRValue
			for _, i := range idx {
				pcrs = append(pcrs, PCRValue{Bank: bank, Index: i, Value: q.GetPcrs().GetPcrs()[uint32(i)]})
			}
			qs = append(qs, realQuote{name: fmt.Sprintf("go-tpm-tools/%s/%s", f.file, bank),
				attest: q.GetQuote(), sig: q.GetRawSig(), ak: ak, nonce: f.nonce, pcrs: pcrs})
		}
	}

	// go-attestation: GCE shielded VM, RSASSA-SHA1 over 24 sha1 PCRs.
	var ga struct {
		AK    struct{ Public string }
		Quote struct{ Nonce, Quote, Signature string }
		Log   struct {
			PCRs []struct {
				Index     int
				Digest    string
				DigestAlg int
			}
		}
	}
	if err := json.Unmarshal(readFile(t, "go-attestation/windows_gcp_shielded_vm.json"), &ga); err != nil {
		t.Fatal(err)
	}
	gaAK, err := ParseAKPublic(mustB64(t, ga.AK.Public))
	if err != nil {
		t.Fatalf("go-attestation AK: %v", err)
	}
	var gaPCRs []PCRValue
	for _, p := range ga.Log.PCRs {
		if crypto.Hash(p.DigestAlg) != crypto.SHA1 {
			t.Fatalf("go-attestation PCR alg %d", p.DigestAlg)
		}
		gaPCRs = append(gaPCRs, PCRValue{Bank: "sha1", Index: p.Index, Value: mustB64(t, p.Digest)})
	}
	qs = append(qs, realQuote{name: "go-attestation/gcp-shielded-vm", attest: mustB64(t, ga.Quote.Quote),
		sig: mustB64(t, ga.Quote.Signature), ak: gaAK, nonce: mustB64(t, ga.Quote.Nonce), pcrs: gaPCRs})

	// keylime: an swtpm quote as keylime's tpm_util_test checks it.
	var kl struct {
		AIKPEM string `json:"aik_pem"`
		Nonce  string `json:"nonce"`
		Quote  string `json:"quote_b64"`
		Sig    string `json:"sig_b64"`
		PCRs   string `json:"pcrblob_b64"`
	}
	if err := json.Unmarshal(readFile(t, "keylime/tpm_util_test.checkquote.json"), &kl); err != nil {
		t.Fatal(err)
	}
	qs = append(qs, realQuote{name: "keylime/swtpm", attest: mustB64(t, kl.Quote), sig: mustB64(t, kl.Sig),
		ak: mustPEMKey(t, []byte(kl.AIKPEM)), nonce: []byte(kl.Nonce), pcrs: readTPM2ToolsPCRs(t, mustB64(t, kl.PCRs))})
	// keylime: a simulator quote. keylime's test data records its nonce
	// nowhere but in the quote; the expected value is copied from there.
	qs = append(qs, realQuote{name: "keylime/simulator", attest: readFile(t, "keylime/quote.out"), sig: readFile(t, "keylime/quotesig.out"),
		ak: mustPEMKey(t, readFile(t, "keylime/akpub.pem")), nonce: mustHex(t, "db1db298db6d60e6385b7231743e9c3056a18003"), pcrs: readTPM2ToolsPCRs(t, readFile(t, "keylime/quotepcr.out"))})

	// cmc: RSASSA-SHA256 over sha256 PCRs 1 and 4; AK from its certificate.
	var cm struct {
		Quote  string `json:"quote_hex"`
		Sig    string `json:"sig_hex"`
		AKCert string `json:"ak_cert_pem"`
		Nonce  string `json:"nonce_hex"`
	}
	if err := json.Unmarshal(readFile(t, "cmc/tpm_test.validQuote.json"), &cm); err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode([]byte(cm.AKCert))
	if blk == nil {
		t.Fatal("cmc AK certificate: no PEM")
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatalf("cmc AK certificate: %v", err)
	}
	qs = append(qs, realQuote{name: "cmc", attest: mustHex(t, cm.Quote), sig: mustHex(t, cm.Sig), ak: cert.PublicKey,
		nonce: mustHex(t, cm.Nonce), pcrs: readPCRsText(t, readFile(t, "cmc/pcrs.txt"))})
	return qs
}

func tpm2AlgID(v uint16) tpm2.TPMAlgID { return tpm2.TPMAlgID(v) }
