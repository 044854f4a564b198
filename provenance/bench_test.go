package provenance_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/attest-build/attest-build/internal/realtest"
	"github.com/attest-build/attest-build/internal/swtpmtest"
	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/provenance/internal/provtest"
	"github.com/attest-build/attest-build/tpm"
)

// benchEntries is the IMA log size of the build wrapper benchmark (issue 4,
// point 7).
const benchEntries = 200_000

// BenchmarkAttestOverhead measures attest-build's own time around a build on
// a real swtpm with a 200,000-entry IMA log: two quotes (each opening the
// TPM afresh), reading and prefix-matching the log, compressing it, hashing
// the artifact, assembling, signing and writing the attestation. The wrapped
// command's own time (RunResult.StartedOn to FinishedOn) is subtracted and
// reported as own-s/op. Setup (swtpm, log, 200,000 PCR extends) is not
// timed.
//
//	go test -run '^$' -bench AttestOverhead -benchtime 5x ./provenance/
func BenchmarkAttestOverhead(b *testing.B) {
	sw := swtpmtest.Start(b)
	side := b.TempDir()
	log := filepath.Join(side, "binary_runtime_measurements")
	writeExtendedLog(b, sw, log, benchEntries)
	sel, err := tpm.ParsePCRSelection(tpm.DefaultPCRSelection)
	if err != nil {
		b.Fatal(err)
	}
	open, release, err := provenance.OpenTPM(provenance.TPMConfig{Ref: sw.Ref(), PCRs: sel})
	if err != nil {
		b.Fatal(err)
	}
	defer release()
	signer, err := provenance.GenerateKey(filepath.Join(side, "k"), provenance.KeyECDSAP256, nil)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app"), make([]byte, 8<<20), 0o644); err != nil {
		b.Fatal(err)
	}
	var own time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		res, err := provenance.Attest(context.Background(), provenance.Options{
			Command:   provenance.Command{Argv: []string{"true"}, Dir: dir},
			Artifacts: []string{"app"},
			Signer:    signer,
			TPM:       open,
			IMALog:    log,
		})
		if err != nil {
			b.Fatal(err)
		}
		own += time.Since(t0) - res.Run.FinishedOn.Sub(res.Run.StartedOn)
		if res.Predicate.IMA.Log.Entries != benchEntries {
			b.Fatalf("log entries %d, want %d", res.Predicate.IMA.Log.Entries, benchEntries)
		}
	}
	b.ReportMetric(own.Seconds()/float64(b.N), "own-s/op")
}

// writeExtendedLog writes an n-entry ima-ng log and extends the swtpm's PCR
// 10 (sha1 and sha256 banks) with every entry, as the kernel would have.
func writeExtendedLog(b *testing.B, sw *swtpmtest.SWTPM, path string, n int) {
	b.Helper()
	t, err := tpm.Open(sw.Ref())
	if err != nil {
		b.Fatal(err)
	}
	defer t.Close()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	for i := 0; i < n; i++ {
		p := "boot_aggregate"
		if i > 0 {
			p = "/usr/lib/x86_64-linux-gnu/lib" + strconv.Itoa(i) + ".so.6"
		}
		rec, th, td := provtest.IMARecord(p)
		if _, err := w.Write(rec); err != nil {
			b.Fatal(err)
		}
		_, err := tpm2.PCRExtend{
			PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(10), Auth: tpm2.PasswordAuth(nil)},
			Digests: tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{
				{HashAlg: tpm2.TPMAlgSHA1, Digest: th[:]},
				{HashAlg: tpm2.TPMAlgSHA256, Digest: td[:]},
			}},
		}.Execute(t.Transport())
		if err != nil {
			b.Fatalf("extending PCR 10 with entry %d: %v", i, err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkHashSubjects1GiB hashes a 1 GiB artifact and, in the same run,
// times sha256sum(1) on it as the reference; ratio = ours / sha256sum.
//
//	go test -run '^$' -bench HashSubjects1GiB -benchtime 3x ./provenance/
func BenchmarkHashSubjects1GiB(b *testing.B) {
	sha256sum := realtest.LookPath(b, "sha256sum", "coreutils")
	dir := b.TempDir()
	p := filepath.Join(dir, "big")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, 1<<30); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	// Warm the page cache for both.
	if err := exec.Command(sha256sum, p).Run(); err != nil {
		b.Fatal(err)
	}
	var ours, ref time.Duration
	b.SetBytes(1 << 30)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := provenance.HashSubjects(dir, []string{"big"}); err != nil {
			b.Fatal(err)
		}
		ours += time.Since(t0)
		b.StopTimer()
		t0 = time.Now()
		if err := exec.Command(sha256sum, p).Run(); err != nil {
			b.Fatal(err)
		}
		ref += time.Since(t0)
		b.StartTimer()
	}
	b.ReportMetric(ref.Seconds()/float64(b.N), "sha256sum-s/op")
	b.ReportMetric(ours.Seconds()/ref.Seconds(), "ratio")
}

// BenchmarkSignStatement measures one DSSE signature over a small statement
// by a key file (ECDSA P-256 in process, the reference) and by the
// TPM-resident key of -k tpm on a real swtpm (a TPM session opened for the
// signature, TPM2_Sign, the session closed), as attest-build signs each
// statement and verify --vsa-key tpm a summary.
//
//	go test -run '^$' -bench SignStatement -benchtime 200x -count 3 ./provenance/
func BenchmarkSignStatement(b *testing.B) {
	st := []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"00"}}],"predicateType":"https://example.com/p","predicate":{}}`)
	fileSigner, err := provenance.GenerateKey(filepath.Join(b.TempDir(), "k"), provenance.KeyECDSAP256, nil)
	if err != nil {
		b.Fatal(err)
	}
	_, _, tpmSigner, _ := provtest.SWTPMSigningKey(b)
	for _, s := range []struct {
		name   string
		signer *provenance.Signer
	}{{"file-key", fileSigner}, {"tpm-key-swtpm", tpmSigner}} {
		b.Run(s.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.signer.SignStatement(context.Background(), st); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
