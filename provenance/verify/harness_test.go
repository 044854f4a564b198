package verify_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attest-build/attest-build/evidence"
	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/provenance/internal/provtest"
	"github.com/attest-build/attest-build/provenance/policy"
	"github.com/attest-build/attest-build/provenance/verify"
)

// realIMALog is a real kernel's IMA log, split into records.
type realIMALog struct {
	records [][]byte
	entries []*evidence.Entry
}

// loadVMLog reads the vm-debian12-swtpm log: a real Debian 12 kernel's
// IMA log (ima-ng, sha256 file digests, 49 entries, 1 violation), from the
// repository's testdata/ima (provenance: testdata/ima/README.md).
func loadVMLog(t testing.TB) realIMALog {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "ima", "vm-debian12-swtpm.bin"))
	if err != nil {
		t.Fatal(err)
	}
	return splitLog(t, raw)
}

// withBootAggregate returns the log with its first entry, the real VM's
// boot_aggregate, replaced by the one the kernel would log on a TPM whose
// sha256 PCRs 0-9 are zero (the simulator's and a fresh swtpm's), so that
// the verifier's boot_aggregate check binds the log to the rig's boot.
func withBootAggregate(t testing.TB, l realIMALog) realIMALog {
	t.Helper()
	zeros := make([][]byte, 10)
	for i := range zeros {
		zeros[i] = make([]byte, 32)
	}
	agg, err := evidence.BootAggregate(evidence.SHA256, zeros)
	if err != nil {
		t.Fatal(err)
	}
	var data []byte
	for _, f := range [][]byte{append([]byte("sha256:\x00"), agg...), []byte(evidence.BootAggregateName + "\x00")} {
		data = binary.LittleEndian.AppendUint32(data, uint32(len(f)))
		data = append(data, f...)
	}
	th := sha1.Sum(data)
	rec := binary.LittleEndian.AppendUint32(nil, 10)
	rec = append(rec, th[:]...)
	rec = binary.LittleEndian.AppendUint32(rec, uint32(len("ima-ng")))
	rec = append(rec, "ima-ng"...)
	rec = binary.LittleEndian.AppendUint32(rec, uint32(len(data)))
	rec = append(rec, data...)
	raw := rec
	for _, r := range l.records[1:] {
		raw = append(raw, r...)
	}
	return splitLog(t, raw)
}

// splitLog decodes a binary log into its entries and their raw records.
func splitLog(t testing.TB, raw []byte) realIMALog {
	t.Helper()
	r, err := evidence.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var l realIMALog
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		l.records = append(l.records, raw[e.Offset:e.Offset+int64(e.Len)])
		l.entries = append(l.entries, e)
	}
	return l
}

// attested is a good attestation made by the build library.
type attested struct {
	dir      string
	att      string // the .intoto.jsonl file
	artifact string
	signer   *provenance.Signer
	res      *provenance.Result
	baseline string // the IMA baseline file the attestation continues, or ""
}

// attestConfig varies attestWith.
type attestConfig struct {
	// baselineAt > 0 makes an IMA baseline after that many entries,
	// before the build's start, which the build continues.
	baselineAt int
	// log, when set, is a log file already holding have records of the
	// log (extended into the rig's PCR 10, boot_aggregate replaced): a
	// runner's later build. baseline is then the baseline to continue.
	log      string
	have     int
	baseline *provenance.BaselineRef
	signer   *provenance.Signer
	// baselineDir attests with Options.BaselineDir (a chain of baselines).
	baselineDir string
}

func newSigner(t testing.TB) *provenance.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := provenance.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// attestAround runs a build with provenance.Attest while the IMA log at
// --ima-log holds log.records[:split] before the build and grows to all of
// them during it, PCR 10 extended to match, as the kernel would.
func attestAround(t testing.TB, r provtest.Rig, log realIMALog, split int, content string) *attested {
	t.Helper()
	return attestWith(t, r, log, split, content, attestConfig{})
}

// attestWith is attestAround as cfg says.
func attestWith(t testing.TB, r provtest.Rig, log realIMALog, split int, content string, cfg attestConfig) *attested {
	t.Helper()
	dir, flags := t.TempDir(), t.TempDir()
	logPath := filepath.Join(flags, "binary_runtime_measurements")
	if cfg.log != "" {
		logPath = cfg.log
	}
	appendRecords := func(from, to int) {
		f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range log.records[from:to] {
			if _, err := f.Write(rec); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		r.Extend(t, log.entries[from:to])
	}
	signer := cfg.signer
	if signer == nil {
		signer = newSigner(t)
	}
	base := cfg.baseline
	if cfg.log == "" {
		log = withBootAggregate(t, log)
	}
	if cfg.baselineAt > 0 {
		appendRecords(cfg.have, cfg.baselineAt)
		var err error
		base, err = provenance.MakeBaseline(context.Background(), provenance.BaselineOptions{Signer: signer, TPM: r.Open, IMALog: logPath,
			Output: filepath.Join(t.TempDir(), "runner"+provenance.BaselineSuffix)})
		if err != nil {
			t.Fatal(err)
		}
		cfg.have = cfg.baselineAt
	}
	appendRecords(cfg.have, split)
	// The command prints "started"; its stdout writer hands over to the
	// goroutine below and waits until the log grew and PCR 10 was extended.
	// The channels order the TPM commands of both sides for the race
	// detector (the shell's files alone would not).
	proceed := filepath.Join(flags, "go")
	startedCh, extended := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(extended)
		select {
		case <-startedCh:
			appendRecords(split, len(log.records))
			os.WriteFile(proceed, nil, 0o644)
		case <-time.After(10 * time.Minute): // a baseline of a long log is made first
		}
	}()
	script := `echo started; while [ ! -e "$1" ]; do sleep 0.01; done; printf %s "$2" > out.bin`
	res, err := provenance.Attest(context.Background(), provenance.Options{
		Command: provenance.Command{Argv: []string{"sh", "-c", script, "sh", proceed, content}, Dir: dir,
			Stdout: &handOver{started: startedCh, wait: extended}, Stderr: io.Discard},
		Signer:      signer,
		TPM:         r.Open,
		IMALog:      logPath,
		Baseline:    base,
		BaselineDir: cfg.baselineDir,
	})
	<-done
	if err != nil {
		t.Fatal(err)
	}
	a := &attested{dir: dir, att: res.Output, artifact: filepath.Join(dir, "out.bin"), signer: signer, res: res}
	if base == nil {
		base = res.Baseline
	}
	if base != nil {
		a.baseline = base.Path
	}
	return a
}

// handOver signals started at its first write and blocks it until wait is
// closed.
type handOver struct {
	once    sync.Once
	started chan struct{}
	wait    chan struct{}
}

func (h *handOver) Write(p []byte) (int, error) {
	h.once.Do(func() {
		close(h.started)
		<-h.wait
	})
	return len(p), nil
}

// policyFor makes a policy with policy init from the attestation, signed
// by its signer, and applies edit to the YAML text.
func policyFor(t testing.TB, a *attested, scope policy.IMAScope, edit func(string) string) *policy.Policy {
	t.Helper()
	f, err := os.Open(a.att)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var baselines []string
	if a.baseline != "" {
		baselines = append(baselines, a.baseline)
	}
	doc, err := verify.InitPolicy(context.Background(), f, verify.PolicyInitOptions{Scope: scope, SignerKeys: []crypto.PublicKey{a.signer.PublicKey()}, Source: filepath.Base(a.att), Baselines: baselines})
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	if edit != nil {
		text = edit(text)
	}
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := policy.LoadPolicy(path)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	return p
}

// verifyFile verifies the attestation bytes for the artifact file.
func verifyBytes(t testing.TB, p *policy.Policy, att []byte, artifact string, opts ...verify.VerifierOption) (*verify.Report, error) {
	t.Helper()
	v, err := verify.NewVerifier(p, opts...)
	if err != nil {
		t.Fatal(err)
	}
	a, err := verify.ArtifactFromFile(artifact)
	if err != nil {
		t.Fatal(err)
	}
	return v.Verify(context.Background(), bytes.NewReader(att), a)
}

// wantCheck asserts that err is a *CheckError of the named check.
func wantCheck(t testing.TB, err error, check verify.Check) *verify.CheckError {
	t.Helper()
	var ce *verify.CheckError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *CheckError of check %s", err, check)
	}
	if ce.Check != check {
		t.Fatalf("failed check %s (%v), want %s", ce.Check, err, check)
	}
	if !errors.Is(err, verify.ErrVerification) {
		t.Fatalf("errors.Is(err, ErrVerification) = false")
	}
	if ce.Report == nil || ce.Report.Verdict != verify.StatusFail {
		t.Fatalf("no failing report with the error")
	}
	return ce
}

func joinLines(t testing.TB, envs []provtest.EnvelopeJSON) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, e := range envs {
		j, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// statementOf decodes the payload of an envelope as a JSON object.
func statementOf(t testing.TB, e provtest.EnvelopeJSON) map[string]any {
	t.Helper()
	body, err := base64.StdEncoding.DecodeString(e.Payload)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// resign re-encodes a statement and signs it with the signer: a trusted
// signer that lies, which the TPM evidence must still catch.
func resign(t testing.TB, s *provenance.Signer, st map[string]any) provtest.EnvelopeJSON {
	t.Helper()
	body, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	env, err := s.SignStatement(context.Background(), body)
	if err != nil {
		t.Fatal(err)
	}
	var e provtest.EnvelopeJSON
	if err := json.Unmarshal(env, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// tpmIndex returns the index of the TPM/IMA envelope.
func tpmIndex(t testing.TB, envs []provtest.EnvelopeJSON) int {
	t.Helper()
	for i, e := range envs {
		if strings.Contains(statementOf(t, e)["predicateType"].(string), "tpm-ima") {
			return i
		}
	}
	t.Fatal("no TPM/IMA statement")
	return -1
}

func flipB64(t testing.TB, s string, at int) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	if at < 0 {
		at += len(b)
	}
	b[at] ^= 0x01
	return base64.StdEncoding.EncodeToString(b)
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func regexpQuote(s string) string { return regexp.QuoteMeta(s) }
