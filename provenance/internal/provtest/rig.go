package provtest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/klauspost/compress/zstd"

	"github.com/attest-build/attest-build/evidence"
	"github.com/attest-build/attest-build/internal/swtpmtest"
	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/tpm"
)

// PCRExtend extends the entry's PCR (10 in every real log) of both banks
// with its digests, as the kernel does (a violation extends all 0xff).
func PCRExtend(t testing.TB, tr transport.TPM, e *evidence.Entry) {
	t.Helper()
	var digests []tpm2.TPMTHA
	for _, b := range []struct {
		bank evidence.Bank
		alg  tpm2.TPMAlgID
	}{{evidence.SHA1, tpm2.TPMAlgSHA1}, {evidence.SHA256, tpm2.TPMAlgSHA256}} {
		d := e.TemplateDigest(b.bank)
		if e.Violation() {
			d = bytes.Repeat([]byte{0xff}, b.bank.Size())
		}
		digests = append(digests, tpm2.TPMTHA{HashAlg: b.alg, Digest: d})
	}
	_, err := tpm2.PCRExtend{
		PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(e.PCR), Auth: tpm2.PasswordAuth(nil)},
		Digests:   tpm2.TPMLDigestValues{Digests: digests},
	}.Execute(tr)
	if err != nil {
		t.Fatalf("extending PCR %d: %v", e.PCR, err)
	}
}

// Rig is a TPM the tests attest with: an opener for Attest and a way to
// extend its PCR 10 between quotes.
type Rig struct {
	Open   provenance.TPMOpener
	Extend func(t testing.TB, entries []*evidence.Entry)
}

// EnvelopeJSON is a DSSE envelope as JSON.
type EnvelopeJSON struct {
	PayloadType string `json:"payloadType"`
	Payload     string `json:"payload"`
	Signatures  []struct {
		KeyID string `json:"keyid"`
		Sig   string `json:"sig"`
	} `json:"signatures"`
}

// Lines splits an attestation file into envelopes.
func Lines(t testing.TB, data []byte) []EnvelopeJSON {
	t.Helper()
	var out []EnvelopeJSON
	for _, l := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var e EnvelopeJSON
		if err := json.Unmarshal(l, &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// Decompress returns the bytes of a compressed log of the given
// predicates encoding.
func Decompress(t testing.TB, encoding string, data []byte) []byte {
	t.Helper()
	var raw []byte
	var err error
	switch encoding {
	case predicates.IMALogEncoding, predicates.BootLogEncoding:
		var zr *zstd.Decoder
		if zr, err = zstd.NewReader(nil); err == nil {
			raw, err = zr.DecodeAll(data, nil)
			zr.Close()
		}
	case predicates.IMALogEncodingGzip:
		var zr *gzip.Reader
		if zr, err = gzip.NewReader(bytes.NewReader(data)); err == nil {
			raw, err = io.ReadAll(zr)
		}
	default:
		t.Fatalf("unknown log encoding %q", encoding)
	}
	if err != nil {
		t.Fatalf("decompressing a %s log: %v", encoding, err)
	}
	return raw
}

// SWTPMSetup starts a real swtpm and returns an opener for it that opens and
// closes the TPM for each quote, as attest-build does with a device.
func SWTPMSetup(t *testing.T) (*swtpmtest.SWTPM, provenance.TPMOpener) {
	t.Helper()
	sw := swtpmtest.Start(t)
	return sw, openSWTPM(t, sw, nil)
}

// SWTPMSigningKey starts a real swtpm as SWTPMSetup does, with the
// TPM-resident signing key (attest-build -k tpm) made in it for the test,
// and returns the TPM signer and the path of its public key (PEM).
func SWTPMSigningKey(t testing.TB) (*swtpmtest.SWTPM, provenance.TPMOpener, *provenance.Signer, string) {
	t.Helper()
	sw := swtpmtest.Start(t)
	dir := t.TempDir()
	open := openSWTPM(t, sw, &provenance.TPMKey{AuthFile: filepath.Join(dir, "key.auth"), Create: true})
	signer, err := provenance.NewTPMSigner(open)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := tpm.PublicKeyPEM(signer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	pubPath := filepath.Join(dir, "tpm-signing.pub")
	if err := os.WriteFile(pubPath, pem, 0o644); err != nil {
		t.Fatal(err)
	}
	return sw, open, signer, pubPath
}

// openSWTPM opens sw for quotes of PCRs 0-10 (and the signing key, when
// key is set), released when the test ends.
func openSWTPM(t testing.TB, sw *swtpmtest.SWTPM, key *provenance.TPMKey) provenance.TPMOpener {
	t.Helper()
	sel, err := tpm.ParsePCRSelection("sha256:0-10+sha1:10")
	if err != nil {
		t.Fatal(err)
	}
	open, release, err := provenance.OpenTPM(provenance.TPMConfig{Ref: sw.Ref(), PCRs: sel, SigningKey: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { release() })
	return open
}
