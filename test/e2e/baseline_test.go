package e2e

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/provenance/verify"
)

// TestRealKernelBaseline: incremental attestation on the real kernel's IMA
// log. In one boot the guest builds twice with --baseline-dir
// (guest/scenario.sh baseline): each build makes a baseline continuing the
// latest, and its attestation carries only the log after it, which is the
// kernel's log from that position on, byte for byte. On the host, verify
// --baseline DIR passes both under a policy made with the baselines, and
// refuses the second without them (ima-baseline).
func TestRealKernelBaseline(t *testing.T) {
	h := newHarness(t)
	b := h.bootIn(t, "baseline", "baseline", h.tpm(t))
	first := readAttestation(t, b.path("first.intoto.jsonl"))
	kernelLog := b.read(t, "binary_runtime_measurements")
	baselines := b.path("baselines")
	files, _ := filepath.Glob(filepath.Join(baselines, "*.baseline.intoto.jsonl"))
	if len(files) != 2 {
		t.Fatalf("%d baselines in the guest's baseline directory, want 2: %v", len(files), files)
	}
	for _, a := range []*attestation{first, b.att} {
		ima := a.tpmima.IMA
		if ima.Baseline == nil || ima.Log == nil || ima.Window == nil || ima.Log.First != ima.Baseline.Entries || ima.Window.Start < ima.Log.First {
			t.Fatalf("%s: baseline %+v, log %+v, window %+v; want a log from the baseline's position", a.path, ima.Baseline, ima.Log, ima.Window)
		}
		t.Logf("%s: baseline at %d entries, %d entries carried of the kernel's log", filepath.Base(a.path), ima.Baseline.Entries, ima.Log.Entries)
	}
	second := b.att.tpmima.IMA
	if f := first.tpmima.IMA; second.Baseline.Entries <= f.Baseline.Entries || second.Log.First != f.Window.End || second.Baseline.Digest == f.Baseline.Digest {
		t.Fatalf("the second build's baseline %+v does not continue at the first's end %d (first's baseline %+v)", second.Baseline, f.Window.End, f.Baseline)
	}
	// The two carried logs, one after the other, are the kernel's log
	// from the first baseline's position to its end (read after the
	// second build, which added the last entry).
	carried := append(first.imaLog(t), b.att.imaLog(t)...)
	if !bytes.HasSuffix(kernelLog, carried) || len(carried) >= len(kernelLog) {
		t.Errorf("the two carried logs (%d bytes) are not the end of the kernel's (%d bytes)", len(carried), len(kernelLog))
	}

	dir := t.TempDir()
	initial, policyPath := filepath.Join(dir, "init.yaml"), filepath.Join(dir, "policy.yaml")
	h.attestBuild(t, "policy", "init", "--from", b.att.path, "--key", h.key+".pub", "--baseline", baselines, "-o", initial)
	h.writePolicy(t, initial, policyPath, map[string]any{"exclude": []string{"/project/out/app.bin"}})
	for _, c := range []struct{ att, artifact string }{{first.path, b.path("first/app.bin")}, {b.att.path, b.path("app.bin")}} {
		code, r := h.verify(t, policyPath, c.att, c.artifact, "--baseline", baselines)
		if code != 0 {
			t.Errorf("verify --baseline %s: exit status %d (%s)", filepath.Base(c.att), code, r.Error)
		}
		wantChecks(t, r, "")
		if r.Facts.IMA == nil || r.Facts.IMA.Baseline == "" {
			t.Errorf("%s: the report names no baseline: %+v", filepath.Base(c.att), r.Facts.IMA)
		}
	}
	code, r := h.verify(t, policyPath, b.att.path, b.path("app.bin"))
	if code != 1 {
		t.Errorf("verify without the baselines: exit status %d, want 1", code)
	}
	wantChecks(t, r, verify.CheckIMABaseline)
	for _, c := range r.Checks {
		if c.Check == verify.CheckIMABaseline && (!strings.Contains(c.Expected, second.Baseline.Digest) || c.Found == "") {
			t.Errorf("ima-baseline without the baselines: expected %q, found %q; want the baseline %s named", c.Expected, c.Found, second.Baseline.Digest)
		}
	}
}
