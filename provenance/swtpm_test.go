package provenance_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/internal/imatest"
	"github.com/attest-build/attest-build/internal/realtest"
	"github.com/attest-build/attest-build/internal/swtpmtest"
	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/provenance/internal/provtest"
	"github.com/attest-build/attest-build/schemas"
	"github.com/attest-build/attest-build/tpm"
)

// pcrExtender extends PCR 10 of the swtpm as the kernel does
// (imatest.SWTPMExtender).
func pcrExtender(t *testing.T, sw *swtpmtest.SWTPM) func([20]byte, [32]byte) {
	t.Helper()
	return imatest.SWTPMExtender(t, sw)
}

// The full job on a real swtpm: the IMA log grows during the build while
// PCR 10 is extended to match; the attestation's window is exactly the
// added entries; the envelopes verify; the predicate validates against the
// schema; tpm2_checkquote accepts the end quote with the artifact's SHA-256
// as the qualification.
func TestAttestSwtpm(t *testing.T) {
	checkquote := realtest.LookPath(t, "tpm2_checkquote", "tpm2-tools")
	sw, open := provtest.SWTPMSetup(t)
	extend := pcrExtender(t, sw)
	dir, side := t.TempDir(), t.TempDir()
	signer, keyPrefix := provtest.TestSigner(t)
	log := filepath.Join(side, "binary_runtime_measurements")
	before := []string{"boot_aggregate", "/usr/bin/bash", "/usr/bin/make"}
	provtest.AppendIMA(t, log, before, extend)

	during := []string{"/usr/bin/gcc", "/usr/libexec/gcc/x86_64-linux-gnu/12/cc1", "/usr/bin/as", "/usr/bin/ld"}
	argv := provtest.BuildGrowingLog(t, side, log, during, extend, `mkdir -p dist; printf 'artifact bytes' > dist/app.tar`)
	res, err := provenance.Attest(context.Background(), provenance.Options{
		Command:   provenance.Command{Argv: argv, Dir: dir, Stdout: io.Discard, Stderr: io.Discard},
		Artifacts: []string{"dist/*.tar"},
		Signer:    signer,
		TPM:       open,
		IMALog:    log,
	})
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("artifact bytes"))
	if res.Output != filepath.Join(dir, "dist", "app.tar.intoto.jsonl") {
		t.Fatalf("output %s", res.Output)
	}
	sts := provtest.ReadAttestation(t, res.Output, keyPrefix+".pub")
	for _, st := range sts {
		if len(st.Subject) != 1 || st.Subject[0].Name != "dist/app.tar" || st.Subject[0].Digest["sha256"] != hex.EncodeToString(digest[:]) {
			t.Fatalf("%s subjects %+v", st.PredicateType, st.Subject)
		}
	}
	p, raw := provtest.TPMPredicate(t, sts)
	if err := schemas.ValidateTPMIMA([]byte(raw)); err != nil {
		t.Fatalf("schema: %v", err)
	}
	if p.TPM.Mode != predicates.ModeSwtpm {
		t.Fatalf("mode %s", p.TPM.Mode)
	}
	w := p.IMA.Window
	if p.IMA.Bank != "sha256" || w.Start != len(before) || w.End != len(before)+len(during) || len(w.Entries) != len(during) {
		t.Fatalf("window [%d, %d) with %d entries in bank %s, want [%d, %d)", w.Start, w.End, len(w.Entries), p.IMA.Bank, len(before), len(before)+len(during))
	}
	for i, e := range w.Entries {
		if e.Path != during[i] || e.Index != len(before)+i {
			t.Fatalf("window entry %d: %+v, want %s", i, e, during[i])
		}
	}

	// tpm2_checkquote: AK public key, TPMS_ATTEST, TPMT_SIGNATURE, and the
	// artifact's sha256sum as the qualification.
	files := map[string][]byte{"ak.pem": []byte(p.AttestationKey.PublicKeyPEM), "attest": p.Quotes.End.Attest, "sig": p.Quotes.End.Signature}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(side, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	check := func(q string) error {
		out, err := exec.Command(checkquote, "-u", filepath.Join(side, "ak.pem"), "-m", filepath.Join(side, "attest"),
			"-s", filepath.Join(side, "sig"), "-g", "sha256", "-q", q).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		return nil
	}
	sum, err := exec.Command("sha256sum", filepath.Join(dir, "dist", "app.tar")).Output()
	if err != nil {
		t.Fatal(err)
	}
	if err := check(strings.Fields(string(sum))[0]); err != nil {
		t.Fatalf("tpm2_checkquote with the artifact's sha256sum: %v", err)
	}
	if err := check(p.Nonce.Start); err == nil {
		t.Fatal("tpm2_checkquote accepted the end quote with another qualification")
	}
}

// Several subjects: the end nonce is the documented subject-list digest
// (sha256sum A B | LC_ALL=C sort -k2 | sha256sum), the output is
// attestation.intoto.jsonl, and both statements list every subject.
// Default discovery finds the files the build wrote.
func TestAttestSwtpmSeveralSubjectsDiscovery(t *testing.T) {
	_, open := provtest.SWTPMSetup(t)
	dir := t.TempDir()
	writeFiles(t, dir, "src/main.c", "README")
	signer, keyPrefix := provtest.TestSigner(t)
	res, err := provenance.Attest(context.Background(), provenance.Options{
		Command: provenance.Command{Argv: []string{"sh", "-c", "mkdir -p out/lib && echo a > out/app && echo b > out/lib/x.so && echo c >> README"}, Dir: dir},
		Signer:  signer,
		TPM:     open,
		IMALog:  filepath.Join(t.TempDir(), "absent"),
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range res.Subjects {
		names = append(names, s.Name)
	}
	if strings.Join(names, " ") != "README out/app out/lib/x.so" {
		t.Fatalf("discovered %v", names)
	}
	if res.Output != filepath.Join(dir, "attestation.intoto.jsonl") {
		t.Fatalf("output %s", res.Output)
	}
	sts := provtest.ReadAttestation(t, res.Output, keyPrefix+".pub")
	for _, st := range sts {
		if len(st.Subject) != 3 {
			t.Fatalf("%s has %d subjects", st.PredicateType, len(st.Subject))
		}
	}
	p, raw := provtest.TPMPredicate(t, sts)
	if err := schemas.ValidateTPMIMA([]byte(raw)); err != nil {
		t.Fatalf("schema: %v", err)
	}
	if p.IMA.Present || p.IMA.Reason == "" || p.Nonce.Construction != predicates.NonceSubjectList {
		t.Fatalf("ima %+v, construction %s", p.IMA, p.Nonce.Construction)
	}
	cmd := exec.Command("sh", "-c", `sha256sum README out/app out/lib/x.so | LC_ALL=C sort -k2 | sha256sum | cut -d' ' -f1`)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	akPub, err := tpm.ParseAKPublic(p.AttestationKey.TPMTPublic)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tpm.VerifyQuote(p.Quotes.End.Attest, p.Quotes.End.Signature, akPub,
		tpm.VerifyOptions{Nonce: provtest.MustHex(t, strings.TrimSpace(string(out))), PCRs: provtest.PCRValues(t, p.Quotes.End.PCRs)}); err != nil {
		t.Fatalf("end quote with the shell recipe's nonce: %v", err)
	}
}

// A failing build returns its status and leaves no attestation, nor any
// temporary file.
func TestAttestSwtpmFailingBuild(t *testing.T) {
	_, open := provtest.SWTPMSetup(t)
	dir := t.TempDir()
	signer, _ := provtest.TestSigner(t)
	_, err := provenance.Attest(context.Background(), provenance.Options{
		Command:   provenance.Command{Argv: []string{"sh", "-c", "echo partial > out.bin; exit 3"}, Dir: dir, Stderr: io.Discard},
		Artifacts: []string{"out.bin"},
		Signer:    signer,
		TPM:       open,
		IMALog:    filepath.Join(dir, "absent"),
	})
	var be *provenance.BuildError
	if !errors.As(err, &be) || be.ExitStatus != 3 {
		t.Fatalf("err %v, want a BuildError with status 3", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "out.bin" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("the failed build left %v", names)
	}
}
