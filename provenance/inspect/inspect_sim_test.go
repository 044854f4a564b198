//go:build simulator && cgo

package inspect_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/provenance/inspect"
	"github.com/attest-build/attest-build/provenance/internal/provtest"
	"github.com/attest-build/attest-build/tpm"
)

// Inspect on a real attestation: a build attested on the simulator with an
// IMA log the test grows (and extends into PCR 10) during the build. Each
// fact inspect shows is checked against an independent source: the quotes as
// tpm.VerifyQuote decodes them after checking their signatures, the subject's
// digest, the window's entries.
func TestInspectRealAttestation(t *testing.T) {
	dir, flags := t.TempDir(), t.TempDir()
	signer, keyPrefix := provtest.TestSigner(t)
	tp, open, extend := provtest.LockedSimulator(t)
	log := filepath.Join(flags, "ima.bin")
	provtest.AppendIMA(t, log, []string{"boot_aggregate", "/usr/bin/make"}, extend)
	during := []string{"/usr/bin/tar", "/usr/bin/gzip"}
	argv := provtest.BuildGrowingLog(t, flags, log, during, extend, "printf app > app.bin")
	res, err := provenance.Attest(context.Background(), provenance.Options{
		Command:   provenance.Command{Argv: argv, Dir: dir, Stdout: io.Discard, Stderr: io.Discard},
		Artifacts: []string{"app.bin"},
		Signer:    signer,
		TPM:       open,
		IMALog:    log,
	})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(res.Output)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := inspect.Inspect(f, inspect.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Envelopes) != 2 || s.Envelopes[0].TPMIMA == nil || s.Envelopes[1].SLSA == nil {
		t.Fatalf("want a TPM/IMA and a SLSA envelope, got %+v", s.Envelopes)
	}
	for _, e := range s.Envelopes {
		if len(e.Subjects) != 1 || e.Subjects[0].Name != "app.bin" || e.Subjects[0].Digest["sha256"] != hex.EncodeToString(res.Subjects[0].SHA256[:]) {
			t.Errorf("line %d: subjects %+v, want app.bin %x", e.Line, e.Subjects, res.Subjects[0].SHA256)
		}
		if len(e.KeyIDs) != 1 || e.KeyIDs[0] != provenance.EnvelopeKeyID {
			t.Errorf("line %d: keyids %q, want %q", e.Line, e.KeyIDs, provenance.EnvelopeKeyID)
		}
	}
	ti := s.Envelopes[0].TPMIMA
	ak, err := tp.EnsureAK(tpm.AKOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ti.Mode != predicates.ModeSim || ti.AKFingerprint != ak.Fingerprint() {
		t.Errorf("mode %q AK %q, want sim %q", ti.Mode, ti.AKFingerprint, ak.Fingerprint())
	}

	// The quotes, decoded by the verifier after their signature checks.
	p, _ := provtest.TPMPredicate(t, provtest.ReadAttestation(t, res.Output, keyPrefix+".pub"))
	for _, q := range []struct {
		name  string
		got   inspect.QuoteSummary
		quote predicates.Quote
		nonce []byte
	}{
		{"start", ti.StartQuote, p.Quotes.Start, provtest.MustHex(t, p.Nonce.Start)},
		{"end", ti.EndQuote, p.Quotes.End, res.Subjects[0].SHA256[:]},
	} {
		v, err := tpm.VerifyQuote(q.quote.Attest, q.quote.Signature, ak.PublicKey, tpm.VerifyOptions{Nonce: q.nonce, PCRs: provtest.PCRValues(t, q.quote.PCRs)})
		if err != nil {
			t.Fatalf("%s quote: %v", q.name, err)
		}
		if q.got.Clock != v.ClockInfo.Clock || q.got.ResetCount != v.ClockInfo.ResetCount || q.got.RestartCount != v.ClockInfo.RestartCount ||
			q.got.Safe != v.ClockInfo.Safe || q.got.ExtraData != hex.EncodeToString(v.ExtraData) || q.got.PCRDigest != hex.EncodeToString(v.PCRDigest) {
			t.Errorf("%s quote: inspect shows %+v, verified quote has %+v, extraData %x, pcrDigest %x", q.name, q.got, v.ClockInfo, v.ExtraData, v.PCRDigest)
		}
	}
	if ti.EndQuote.Clock < ti.StartQuote.Clock {
		t.Errorf("end clock %d before start clock %d", ti.EndQuote.Clock, ti.StartQuote.Clock)
	}

	// The window: exactly the entries added during the build.
	m := ti.IMA
	var paths []string
	for _, e := range m.Window {
		paths = append(paths, e.Path)
	}
	if !m.Present || m.WindowStart != 2 || m.WindowEnd != 4 || m.LogEntries != 4 || strings.Join(paths, ",") != strings.Join(during, ",") {
		t.Errorf("IMA summary %+v, want window [2, 4) of 4 entries: %v", m, during)
	}
	// The carried log's encoding is named (zstd), and its size is not
	// called a gzip size.
	if m.LogEncoding != predicates.IMALogEncoding || m.LogCompressedSize == 0 {
		t.Errorf("IMA log encoding %q, %d compressed bytes; want %q and its size", m.LogEncoding, m.LogCompressedSize, predicates.IMALogEncoding)
	}
	if js, _ := json.Marshal(m); !bytes.Contains(js, []byte(`"logEncoding":"binary_runtime_measurements+zstd","logCompressedBytes":`)) || bytes.Contains(js, []byte("Gzip")) {
		t.Errorf("inspect JSON of the IMA summary: %s", js)
	}

	var text bytes.Buffer
	if err := s.WriteText(&text, inspect.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"NOT VERIFIED", "sim (the embedded simulator: proves nothing about hardware)", ak.Fingerprint(),
		"/usr/bin/tar", "/usr/bin/gzip", "entries [2, 4)", "builders/tpm-sim/v0.1"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
}
