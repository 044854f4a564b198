package verify_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/provenance/inspect"
	"github.com/attest-build/attest-build/provenance/internal/provtest"
	"github.com/attest-build/attest-build/provenance/policy"
	"github.com/attest-build/attest-build/provenance/verify"
	"github.com/attest-build/attest-build/tpm"
)

// TestVerifyBaselineSwtpm: on a real swtpm around a real kernel's IMA log,
// a build continuing an IMA baseline (made after 10 entries) carries only
// the entries after it and verifies with the baseline given; the tamper
// rows of the baseline: missing, altered (signature), a lying signer's
// baseline log, a digest no baseline has, another position or PCR value,
// a baseline quoted after the build's start, another attestation key, and
// another boot of the same TPM with the same log and PCR 10.
func TestVerifyBaselineSwtpm(t *testing.T) {
	log := loadVMLog(t)
	r, sw := swtpmRig(t)
	signer := newSigner(t)
	a := attestWith(t, r, log, 30, "hello baseline", attestConfig{baselineAt: 10, signer: signer})
	good := mustRead(t, a.att)
	ima := a.res.Predicate.IMA
	if ima.Baseline == nil || ima.Baseline.Entries != 10 || ima.Log.First != 10 || ima.Log.Entries != len(log.records)-10 ||
		ima.Window.Start != 30 || ima.Window.End != len(log.records) || ima.Window.Entries != nil {
		t.Fatalf("predicate: baseline %+v, log first %d entries %d, window [%d, %d)", ima.Baseline, ima.Log.First, ima.Log.Entries, ima.Window.Start, ima.Window.End)
	}
	base, err := provenance.LoadBaseline(a.baseline)
	if err != nil {
		t.Fatal(err)
	}
	if base.Digest != ima.Baseline.Digest {
		t.Fatalf("the attestation names %s, the baseline is %s", ima.Baseline.Digest, base.Digest)
	}
	// Policy init sees the baseline's entries (boot scope): the violation
	// at entry 8, inside the baseline, makes it refuse violations.
	p := policyFor(t, a, policy.ScopeBoot, editPolicy(t, allowViolations))
	withBase := verify.WithBaselines(filepath.Dir(a.baseline)) // a directory of baselines

	rep, err := verifyBytes(t, p, good, a.artifact, withBase)
	if err != nil {
		t.Fatalf("good attestation with its baseline: %v", err)
	}
	if f := rep.Facts.IMA; f.Baseline != base.Digest || f.InScope != len(log.records) || f.LogEntries != len(log.records)-10 {
		t.Fatalf("facts: baseline %q, %d in scope (want every entry, the baseline's too: %d), %d carried", f.Baseline, f.InScope, len(log.records), f.LogEntries)
	}

	// inspect decodes the window from the log: the attestation carries no
	// decoded entries beside a baseline.
	sum, err := inspect.Inspect(bytes.NewReader(good), inspect.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ti := sum.Envelopes[0].TPMIMA; ti == nil || ti.IMA.Baseline == nil || len(ti.IMA.Window) != len(log.records)-30 ||
		ti.IMA.Window[0].Index != 30 || ti.IMA.Window[0].Path != log.entries[30].Path {
		t.Fatalf("inspect's window: %+v", ti)
	}

	// An allowlist broken by a baseline entry fails ima-rules in boot scope,
	// not in window scope.
	t.Run("boot-scope rules see the baseline's entries", func(t *testing.T) {
		deny := editPolicy(t, func(m map[string]any) {
			allowViolations(m)
			m["ima"].(map[string]any)["deny"] = []any{log.entries[5].Path}
		})
		_, err := verifyBytes(t, policyFor(t, a, policy.ScopeBoot, deny), good, a.artifact, withBase)
		ce := wantCheck(t, err, verify.CheckIMARules)
		if f := ce.Report.Facts.IMA.Findings; len(f) == 0 || f[0].Index != 5 {
			t.Fatalf("findings %+v, want entry 5 first", f)
		}
		if _, err := verifyBytes(t, policyFor(t, a, policy.ScopeWindow, deny), good, a.artifact, withBase); err != nil {
			t.Fatalf("window scope: %v", err)
		}
	})

	// rename names the baseline file's statement digest in the attestation
	// (re-signed, as a lying signer would), with its position and value.
	rename := func(t *testing.T, ref *provenance.BaselineRef, entries int, pcr string) []byte {
		changed, _ := predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
			m := imaOf(pred)
			m["baseline"] = map[string]any{"digest": ref.Digest, "entries": entries, "pcrValue": pcr}
			lg := m["log"].(map[string]any)
			lg["first"] = entries
		})(t, a, provtest.Lines(t, good))
		return changed
	}
	wantBaseline := func(t *testing.T, err error, found string) {
		t.Helper()
		ce := wantCheck(t, err, verify.CheckIMABaseline)
		if !errors.Is(err, verify.ErrBaseline) || !strings.Contains(ce.Found+" "+err.Error(), found) {
			t.Fatalf("err %v (found %q), want ErrBaseline naming %q", err, ce.Found, found)
		}
	}

	t.Run("missing baseline", func(t *testing.T) {
		_, err := verifyBytes(t, p, good, a.artifact)
		wantBaseline(t, err, "none among 0 baseline file(s)")
	})
	t.Run("altered baseline (signature)", func(t *testing.T) {
		b := mustRead(t, a.baseline)
		envs := provtest.Lines(t, b)
		envs[0].Signatures[0].Sig = flipB64(t, envs[0].Signatures[0].Sig, 8)
		path := filepath.Join(t.TempDir(), "altered"+provenance.BaselineSuffix)
		os.WriteFile(path, joinLines(t, envs), 0o644)
		_, err := verifyBytes(t, p, good, a.artifact, verify.WithBaselines(path))
		wantBaseline(t, err, "none that verifies")
	})
	t.Run("baseline log edited by the signer", func(t *testing.T) {
		// The trusted signer drops the baseline log's last entry and
		// re-signs: the log no longer replays to the baseline's quote, and
		// the attestation names the new statement.
		envs := provtest.Lines(t, mustRead(t, a.baseline))
		st := statementOf(t, envs[0])
		pred := st["predicate"].(map[string]any)
		bi := pred["ima"].(map[string]any)
		cut := splitLog(t, logBytes(t, bi["log"].(map[string]any))).entries[9].Offset
		editLog(t, pred, func(raw []byte) []byte { return raw[:cut] })
		raw := logBytes(t, bi["log"].(map[string]any))
		bi["logBytes"] = len(raw)
		bi["log"].(map[string]any)["entries"] = 9
		st["subject"].([]any)[0].(map[string]any)["digest"] = map[string]any{"sha256": sha256hex(raw)}
		path := filepath.Join(t.TempDir(), "edited"+provenance.BaselineSuffix)
		os.WriteFile(path, joinLines(t, []provtest.EnvelopeJSON{resign(t, signer, st)}), 0o644)
		ref, err := provenance.LoadBaseline(path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = verifyBytes(t, p, rename(t, ref, 10, hex.EncodeToString(base.PCRValue)), a.artifact, verify.WithBaselines(path))
		wantBaseline(t, err, "after 9 entries")
	})
	t.Run("baseline digest mismatch", func(t *testing.T) {
		other := *base
		other.Digest = "sha256:" + strings.Repeat("ab", 32)
		_, err := verifyBytes(t, p, rename(t, &other, 10, hex.EncodeToString(base.PCRValue)), a.artifact, withBase)
		wantBaseline(t, err, "none among 1 baseline file(s)")
	})
	t.Run("later position", func(t *testing.T) {
		_, err := verifyBytes(t, p, rename(t, base, 11, hex.EncodeToString(base.PCRValue)), a.artifact, withBase)
		wantBaseline(t, err, "10 entries in the baseline")
	})
	t.Run("PCR value mismatch", func(t *testing.T) {
		_, err := verifyBytes(t, p, rename(t, base, 10, strings.Repeat("00", 32)), a.artifact, withBase)
		wantBaseline(t, err, "the baseline quote's")
	})
	t.Run("baseline quoted after the build's start", func(t *testing.T) {
		// The log now holds every entry: a baseline made now is at the
		// window's end, and its clock after the start quote's.
		logPath := filepath.Join(t.TempDir(), "log")
		os.WriteFile(logPath, joinRecords(withBootAggregate(t, log).records), 0o644)
		late, err := provenance.MakeBaseline(context.Background(), provenance.BaselineOptions{Signer: signer, TPM: r.Open, IMALog: logPath, Output: filepath.Join(t.TempDir(), "late"+provenance.BaselineSuffix)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = verifyBytes(t, p, rename(t, late, 30, hex.EncodeToString(late.PCRValue)), a.artifact, verify.WithBaselines(late.Path))
		wantBaseline(t, err, "clock at most")
	})
	t.Run("baseline by another AK", func(t *testing.T) {
		sel, _ := tpm.ParsePCRSelection("sha256:0-10+sha1:10")
		open, release, err := provenance.OpenTPM(provenance.TPMConfig{Ref: sw.Ref(), PCRs: sel, AK: tpm.AKOptions{Alg: tpm.AKRSA2048}})
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		logPath := filepath.Join(t.TempDir(), "log")
		os.WriteFile(logPath, joinRecords(withBootAggregate(t, log).records), 0o644)
		other, err := provenance.MakeBaseline(context.Background(), provenance.BaselineOptions{Signer: signer, TPM: open, IMALog: logPath, Output: filepath.Join(t.TempDir(), "rsa"+provenance.BaselineSuffix)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = verifyBytes(t, p, rename(t, other, 30, hex.EncodeToString(other.PCRValue)), a.artifact, verify.WithBaselines(other.Path))
		wantBaseline(t, err, "another attestation key")
	})
	t.Run("baseline from another boot", func(t *testing.T) {
		// Reboot the TPM and replay the same log: the new boot's baseline
		// has the same position and PCR 10 value; only the boot differs.
		// Run last: the TPM has rebooted.
		powerCycle(t, sw, tpm2.TPMSUClear, tpm2.TPMSUClear)
		b := attestWith(t, r, log, 30, "hello again", attestConfig{baselineAt: 10, signer: signer})
		other, err := provenance.LoadBaseline(b.baseline)
		if err != nil {
			t.Fatal(err)
		}
		if other.Entries != base.Entries || !bytes.Equal(other.PCRValue, base.PCRValue) || other.ResetCount == base.ResetCount {
			t.Fatalf("the new boot's baseline: %d entries, PCR %x, resetCount %d; the first %d, %x, %d", other.Entries, other.PCRValue, other.ResetCount, base.Entries, base.PCRValue, base.ResetCount)
		}
		_, err = verifyBytes(t, p, rename(t, other, 10, hex.EncodeToString(other.PCRValue)), a.artifact, verify.WithBaselines(other.Path))
		wantBaseline(t, err, "another boot")
	})
}

func joinRecords(recs [][]byte) []byte { return bytes.Join(recs, nil) }

// TestVerifyBaselineChainSwtpm: builds on one runner with --baseline-dir
// (Options.BaselineDir): the first makes the boot's baseline, each later
// one a baseline continuing the latest, so that every attestation carries
// only the entries since the build before; all verify in one Verifier with
// the directory, each baseline verified once; a missing link, or a link
// from another boot, is refused.
func TestVerifyBaselineChainSwtpm(t *testing.T) {
	log := withBootAggregate(t, loadVMLog(t))
	r, sw := swtpmRig(t)
	signer := newSigner(t)
	dir, logPath := t.TempDir(), filepath.Join(t.TempDir(), "binary_runtime_measurements")
	var atts []*attested
	for k, end := range []int{20, 30, 40, len(log.records)} {
		have := 0
		if k > 0 {
			have = []int{20, 30, 40}[k-1]
		}
		part := realIMALog{records: log.records[:end], entries: log.entries[:end]}
		a := attestWith(t, r, part, end-5, fmt.Sprintf("build %d", k+1), attestConfig{log: logPath, have: have, signer: signer, baselineDir: dir})
		ima := a.res.Predicate.IMA
		if ima.Baseline == nil || ima.Log.First != end-5 || ima.Log.Entries != 5 || !a.res.BaselineMade {
			t.Fatalf("build %d: baseline %+v, log first %d, %d entries, made %t; want the baseline at %d and 5 entries", k+1, ima.Baseline, ima.Log.First, ima.Log.Entries, a.res.BaselineMade, end-5)
		}
		atts = append(atts, a)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"+provenance.BaselineSuffix))
	if len(files) != 4 {
		t.Fatalf("%d baselines in the directory, want 4: %v", len(files), files)
	}
	ref := *atts[3]
	ref.baseline = dir // policy init needs the whole chain
	p := policyFor(t, &ref, policy.ScopeBoot, editPolicy(t, allowViolations))
	v, err := verify.NewVerifier(p, verify.WithBaselines(dir))
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range atts {
		art, _ := verify.ArtifactFromFile(a.artifact)
		rep, err := v.Verify(context.Background(), bytes.NewReader(mustRead(t, a.att)), art)
		if err != nil {
			t.Fatalf("build %d: %v", i+1, err)
		}
		if rep.Facts.IMA.InScope != a.res.Predicate.IMA.Window.End {
			t.Fatalf("build %d: %d entries in scope, want every entry from boot: %d", i+1, rep.Facts.IMA.InScope, a.res.Predicate.IMA.Window.End)
		}
	}

	t.Run("missing link", func(t *testing.T) {
		// Without the second baseline, the fourth's chain is broken.
		second, err := provenance.LoadBaseline(atts[1].baseline)
		if err != nil {
			t.Fatal(err)
		}
		var keep []string
		for _, f := range files {
			if f != second.Path {
				keep = append(keep, f)
			}
		}
		_, err = verifyBytes(t, p, mustRead(t, atts[3].att), atts[3].artifact, verify.WithBaselines(keep...))
		ce := wantCheck(t, err, verify.CheckIMABaseline)
		if !strings.Contains(ce.Expected, second.Digest) {
			t.Fatalf("expected %q, want the missing link %s named", ce.Expected, second.Digest)
		}
	})
	t.Run("link from another boot", func(t *testing.T) {
		// After a reset, the same log replayed again: a baseline of the
		// new boot that names the old boot's latest as its previous one.
		last, err := provenance.LoadBaseline(atts[3].baseline)
		if err != nil {
			t.Fatal(err)
		}
		powerCycle(t, sw, tpm2.TPMSUClear, tpm2.TPMSUClear)
		r.Extend(t, log.entries)
		_, err = provenance.MakeBaseline(context.Background(), provenance.BaselineOptions{Signer: signer, TPM: r.Open, IMALog: logPath, Output: filepath.Join(t.TempDir(), "x"+provenance.BaselineSuffix), Previous: last})
		if !errors.Is(err, provenance.ErrBaselineMismatch) || !strings.Contains(err.Error(), "another boot") {
			t.Fatalf("a link after a reboot: %v, want ErrBaselineMismatch naming another boot", err)
		}
	})
}
