//go:build simulator && cgo

package provenance_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/provenance/internal/provtest"
	"github.com/attest-build/attest-build/schemas"
	"github.com/attest-build/attest-build/tpm"
)

func TestAttestSimulatorIMAWindow(t *testing.T) {
	dir, flags := t.TempDir(), t.TempDir()
	signer, keyPrefix := provtest.TestSigner(t)
	_, open, extend := provtest.LockedSimulator(t)
	log := filepath.Join(flags, "ima.bin")
	before := []string{"boot_aggregate", "/usr/bin/bash", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/bin/make", "/etc/ld.so.cache"}
	provtest.AppendIMA(t, log, before, extend)

	// The build waits until the test has grown the log (and extended PCR
	// 10) as the kernel would while it runs.
	during := []string{"/usr/bin/cc", "/usr/libexec/gcc/cc1", "/usr/bin/ld"}
	argv := provtest.BuildGrowingLog(t, flags, log, during, extend, "printf hello > out.bin")
	res, err := provenance.Attest(context.Background(), provenance.Options{
		Command: provenance.Command{Argv: argv, Dir: dir, Stdout: io.Discard, Stderr: io.Discard},
		Signer:  signer,
		TPM:     open,
		IMALog:  log,
	})
	if err != nil {
		t.Fatal(err)
	}
	// An entry appended after the end quote is not part of the attestation.
	provtest.AppendIMA(t, log, []string{"/usr/bin/late"}, extend)

	want := sha256.Sum256([]byte("hello"))
	if len(res.Subjects) != 1 || res.Subjects[0].Name != "out.bin" || res.Subjects[0].SHA256 != want {
		t.Fatalf("subjects %+v, want out.bin %x", res.Subjects, want)
	}
	if wantOut := filepath.Join(dir, "out.bin.intoto.jsonl"); res.Output != wantOut {
		t.Fatalf("output %s, want %s", res.Output, wantOut)
	}
	sts := provtest.ReadAttestation(t, res.Output, keyPrefix+".pub")
	if len(sts) != 2 {
		t.Fatalf("%d statements, want 2", len(sts))
	}
	for _, st := range sts {
		if st.Type != "https://in-toto.io/Statement/v1" || len(st.Subject) != 1 || st.Subject[0].Name != "out.bin" ||
			st.Subject[0].Digest["sha256"] != "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" {
			t.Fatalf("statement %s: type %s, subjects %+v", st.PredicateType, st.Type, st.Subject)
		}
	}
	p, raw := provtest.TPMPredicate(t, sts)
	if err := schemas.ValidateTPMIMA([]byte(raw)); err != nil {
		t.Fatalf("emitted predicate fails the schema: %v", err)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if p.TPM.Mode != predicates.ModeSim || p.Nonce.Construction != predicates.NonceSingleSubject {
		t.Fatalf("mode %s, construction %s", p.TPM.Mode, p.Nonce.Construction)
	}

	// Both quotes verify against the AK in the predicate, the end one with
	// the artifact's digest as its nonce.
	akPub, err := tpm.ParseAKPublic(p.AttestationKey.TPMTPublic)
	if err != nil {
		t.Fatal(err)
	}
	for name, q := range map[string]struct {
		q     predicates.Quote
		nonce string
	}{"start": {p.Quotes.Start, p.Nonce.Start}, "end": {p.Quotes.End, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"}} {
		if _, err := tpm.VerifyQuote(q.q.Attest, q.q.Signature, akPub, tpm.VerifyOptions{Nonce: provtest.MustHex(t, q.nonce), PCRs: provtest.PCRValues(t, q.q.PCRs)}); err != nil {
			t.Fatalf("%s quote: %v", name, err)
		}
	}

	// The window is exactly the entries added during the build.
	ima := p.IMA
	if !ima.Present || ima.Bank != "sha256" || ima.Template != "ima-ng" || ima.Window.Start != len(before) || ima.Window.End != len(before)+len(during) {
		t.Fatalf("ima present=%t bank=%s template=%s window [%d, %d), want [%d, %d)", ima.Present, ima.Bank, ima.Template,
			ima.Window.Start, ima.Window.End, len(before), len(before)+len(during))
	}
	var paths []string
	for _, e := range ima.Window.Entries {
		paths = append(paths, e.Path)
	}
	if strings.Join(paths, ",") != strings.Join(during, ",") {
		t.Fatalf("window paths %v, want %v", paths, during)
	}
	// The log is the exact bytes of the entries up to the end quote.
	var wantLog []byte
	for _, p := range append(before, during...) {
		rec, _, _ := provtest.IMARecord(p)
		wantLog = append(wantLog, rec...)
	}
	if ima.Log.Encoding != predicates.IMALogEncoding {
		t.Fatalf("ima.log.encoding %q, want %q", ima.Log.Encoding, predicates.IMALogEncoding)
	}
	gotLog := provtest.Decompress(t, ima.Log.Encoding, ima.Log.Data)
	if !bytes.Equal(gotLog, wantLog) || ima.Log.Entries != len(before)+len(during) {
		t.Fatalf("log: %d bytes, %d entries; want %d bytes, %d entries", len(gotLog), ima.Log.Entries, len(wantLog), len(before)+len(during))
	}

	// SLSA provenance for the same subjects, with the simulator's builder id.
	var slsa struct {
		BuildDefinition struct {
			BuildType          string `json:"buildType"`
			ExternalParameters struct {
				Argv             []string `json:"argv"`
				WorkingDirectory string   `json:"workingDirectory"`
			} `json:"externalParameters"`
		} `json:"buildDefinition"`
		RunDetails struct {
			Builder struct {
				ID string `json:"id"`
			} `json:"builder"`
			Byproducts []struct {
				Name string `json:"name"`
			} `json:"byproducts"`
		} `json:"runDetails"`
	}
	if sts[1].PredicateType != predicates.SLSAProvenanceType {
		t.Fatalf("second statement is %s", sts[1].PredicateType)
	}
	if err := json.Unmarshal(sts[1].Predicate, &slsa); err != nil {
		t.Fatal(err)
	}
	wantID, _ := provenance.BuilderID(predicates.ModeSim, "")
	if slsa.BuildDefinition.BuildType != provenance.BuildType || slsa.RunDetails.Builder.ID != wantID ||
		slsa.BuildDefinition.ExternalParameters.Argv[0] != "sh" || slsa.BuildDefinition.ExternalParameters.WorkingDirectory != dir {
		t.Fatalf("SLSA predicate: %s", sts[1].Predicate)
	}
	if len(slsa.RunDetails.Byproducts) == 0 || slsa.RunDetails.Byproducts[0].Name != "tpm-ima-statement" {
		t.Fatalf("SLSA byproducts: %+v", slsa.RunDetails.Byproducts)
	}
}

// With the embedded simulator and no explicit IMA log, the kernel's log is
// not read: it is extended into the machine's TPM, never the simulator.
func TestAttestSimulatorSkipsKernelIMALog(t *testing.T) {
	dir := t.TempDir()
	signer, keyPrefix := provtest.TestSigner(t)
	tp, sel := provtest.OpenSimulator(t, tpm.DefaultPCRSelection)
	res, err := provenance.Attest(context.Background(), provenance.Options{
		Command: provenance.Command{Argv: []string{"sh", "-c", "printf x > out.bin"}, Dir: dir, Stdout: io.Discard, Stderr: io.Discard},
		Signer:  signer,
		TPM:     provenance.SharedTPM(tp, sel, tpm.AKOptions{}),
	})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := provtest.TPMPredicate(t, provtest.ReadAttestation(t, res.Output, keyPrefix+".pub"))
	if p.IMA.Present || p.IMA.Reason != provenance.ReasonSimulatorIMA {
		t.Fatalf("ima present=%t reason %q, want absent with %q", p.IMA.Present, p.IMA.Reason, provenance.ReasonSimulatorIMA)
	}
}

// A signal that arrives after the build, while the attestation is being
// made, stops Attest between steps (it no longer kills the process midway,
// which could leave a temporary file): an *InterruptedError, and neither
// an attestation nor a temporary file is left.
func TestAttestInterruptedAfterBuild(t *testing.T) {
	dir := t.TempDir()
	signer, _ := provtest.TestSigner(t)
	tp, sel := provtest.OpenSimulator(t, tpm.DefaultPCRSelection)
	open, opens := provenance.SharedTPM(tp, sel, tpm.AKOptions{}), 0
	_, err := provenance.Attest(context.Background(), provenance.Options{
		Command: provenance.Command{Argv: []string{"sh", "-c", "printf x > out.bin"}, Dir: dir, Stdout: io.Discard, Stderr: io.Discard},
		Signer:  signer,
		TPM: func() (provenance.TPMSession, error) {
			if opens++; opens == 2 { // the end quote: the build is over
				// os/signal sends a signal to every registered channel, Attest's
				// and ours, under one lock that Stop also takes: once ours has
				// it and Stop returned, Attest's channel holds it too.
				seen := make(chan os.Signal, 1)
				signal.Notify(seen, syscall.SIGINT)
				if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
					t.Fatal(err)
				}
				<-seen
				signal.Stop(seen)
			}
			return open()
		},
	})
	var ie *provenance.InterruptedError
	if !errors.As(err, &ie) || ie.Signal != syscall.SIGINT {
		t.Fatalf("err %v, want an *InterruptedError for SIGINT", err)
	}
	left, err := filepath.Glob(filepath.Join(dir, "*.intoto.jsonl*"))
	if err != nil {
		t.Fatal(err)
	}
	tmps, _ := filepath.Glob(filepath.Join(dir, ".*")) // internal/atomicfile's temporary files are hidden
	if len(left)+len(tmps) > 0 {
		t.Fatalf("left behind: %v %v", left, tmps)
	}
}
