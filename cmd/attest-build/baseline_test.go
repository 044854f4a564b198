package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/internal/imatest"
	"github.com/attest-build/attest-build/internal/swtpmtest"
	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/provenance/verify"
	"github.com/attest-build/attest-build/tpm"
)

// imaRunner is a runner on an swtpm whose PCR 10 holds the records of an
// IMA log file (as a kernel's), in the test's working directory, with a
// file signing key (signer.key, signer.pub).
type imaRunner struct {
	sw     *swtpmtest.SWTPM
	log    string
	extend func([20]byte, [32]byte)
	n      int // paths appended so far, to name new ones
}

func newIMARunner(t *testing.T) *imaRunner {
	t.Helper()
	r := &imaRunner{sw: swtpmtest.Start(t)}
	t.Chdir(t.TempDir())
	t.Setenv(provenance.KeyPasswordEnv, "")
	t.Setenv(provenance.KeyEnv, "")
	mustRun(t, "key", "generate", "--out", "signer")
	r.log, _ = filepath.Abs("binary_runtime_measurements")
	r.extend = imatest.SWTPMExtender(t, r.sw)
	imatest.Append(t, r.log, []string{"boot_aggregate"}, r.extend)
	r.grow(t, 2)
	return r
}

// paths names n new files for IMA records.
func (r *imaRunner) paths(n int) []string {
	var ps []string
	for range n {
		r.n++
		ps = append(ps, fmt.Sprintf("/usr/bin/tool-%d", r.n))
	}
	return ps
}

// grow appends n records to the log (PCR 10 extended), outside a build.
func (r *imaRunner) grow(t *testing.T, n int) {
	t.Helper()
	imatest.Append(t, r.log, r.paths(n), r.extend)
}

// flags are the TPM, IMA log and key flags of a build or baseline.
func (r *imaRunner) flags(args ...string) []string {
	return append(args, "--tpm", r.sw.Ref(), "--ima-log", r.log, "-k", "signer.key")
}

// build attests a build of name during which n records are appended to the
// log, with the extra flags; it returns stderr and the exit status.
func (r *imaRunner) build(t *testing.T, name string, n int, extra ...string) (string, int) {
	t.Helper()
	argv := imatest.GrowDuring(t, t.TempDir(), r.log, r.paths(n), r.extend, "echo "+name+" > "+name)
	_, stderr, code := runMain(t, "", append(append(r.flags(extra...), "-a", name, "--"), argv...)...)
	return stderr, code
}

// tpmIMAPredicate decodes the TPM/IMA predicate of an attestation file
// (the first envelope; not verified).
func tpmIMAPredicate(t *testing.T, path string) *predicates.TPMIMA {
	t.Helper()
	line, _, _ := strings.Cut(mustRead(t, path), "\n")
	var env struct{ Payload []byte }
	if err := json.Unmarshal([]byte(line), &env); err != nil {
		t.Fatal(err)
	}
	var st struct{ Predicate predicates.TPMIMA }
	if err := json.Unmarshal(env.Payload, &st); err != nil {
		t.Fatal(err)
	}
	return &st.Predicate
}

// wantCarried checks that the attestation continues the baseline base and
// carries exactly the entries from first on, n of them, the build's window
// starting at start.
func wantCarried(t *testing.T, att string, base *provenance.BaselineRef, first, n, start int) {
	t.Helper()
	ima := tpmIMAPredicate(t, att).IMA
	if ima.Baseline == nil || ima.Log == nil || ima.Window == nil {
		t.Fatalf("%s: baseline %+v, log %+v, window %+v", att, ima.Baseline, ima.Log, ima.Window)
	}
	if ima.Baseline.Digest != base.Digest || ima.Baseline.Entries != first || ima.Log.First != first || ima.Log.Entries != n ||
		ima.Window.Start != start || ima.Window.End != first+n {
		t.Fatalf("%s: baseline %s at %d, log first %d entries %d, window [%d, %d); want %s at %d, %d entries from it, window [%d, %d)",
			att, ima.Baseline.Digest, ima.Baseline.Entries, ima.Log.First, ima.Log.Entries, ima.Window.Start, ima.Window.End, base.Digest, first, n, start, first+n)
	}
}

// wantBaselineRefused runs verify --format json and checks that it exits
// 1 with the ima-baseline check failed, its expected value containing
// expected and its found value found.
func wantBaselineRefused(t *testing.T, expected, found string, args ...string) {
	t.Helper()
	r, code := verifyReport(t, args...)
	c := checkOf(t, r, verify.CheckIMABaseline)
	if code != 1 || c.Status != verify.StatusFail || !strings.Contains(c.Expected, expected) || !strings.Contains(c.Found, found) {
		t.Fatalf("verify %q: exit %d, %s %+v; want exit 1, expected containing %q, found %q", args, code, verify.CheckIMABaseline, c, expected, found)
	}
}

// The CLI of IMA baselines on an swtpm: attest-build baseline -o, a build
// with --baseline FILE that carries only the entries after it, policy init
// and verify with --baseline; refused without the baseline and with
// another AK's baseline named by a re-signed attestation.
func TestBaselineFileCLI(t *testing.T) {
	r := newIMARunner(t)
	stderr := mustRun(t, r.flags("baseline", "-o", "boot"+provenance.BaselineSuffix)...)
	base, err := provenance.LoadBaseline("boot" + provenance.BaselineSuffix)
	if err != nil {
		t.Fatal(err)
	}
	if base.Entries != 3 || !strings.Contains(stderr, "IMA baseline: 3 entries") {
		t.Fatalf("baseline of a 3-entry log: %d entries; stderr %q", base.Entries, stderr)
	}
	// Of the same log and PCR 10, quoted by the swtpm's other AK.
	mustRun(t, r.flags("baseline", "--ak-alg", "rsa-2048", "-o", "rsa"+provenance.BaselineSuffix)...)
	rsa, err := provenance.LoadBaseline("rsa" + provenance.BaselineSuffix)
	if err != nil {
		t.Fatal(err)
	}
	if rsa.AKFingerprint == base.AKFingerprint || rsa.Entries != base.Entries || string(rsa.PCRValue) != string(base.PCRValue) {
		t.Fatalf("the RSA AK's baseline: AK %s, %d entries, PCR %x; the ECC one's %s, %d, %x", rsa.AKFingerprint, rsa.Entries, rsa.PCRValue, base.AKFingerprint, base.Entries, base.PCRValue)
	}

	r.grow(t, 2) // entries after the baseline, before the build
	if out, code := r.build(t, "a.bin", 3, "--baseline", base.Path); code != 0 {
		t.Fatalf("build --baseline: exit %d\n%s", code, out)
	}
	wantCarried(t, "a.bin.intoto.jsonl", base, 3, 5, 5)

	mustRun(t, "policy", "init", "--from", "a.bin.intoto.jsonl", "--key", "signer.pub", "--baseline", base.Path, "-o", "policy.yaml")
	if out, code := verifyExit(t, "--policy", "policy.yaml", "--baseline", base.Path, "a.bin"); code != 0 {
		t.Fatalf("verify --baseline: exit %d\n%s", code, out)
	}
	// The report names the baseline and counts its entries in scope.
	rep, code := verifyReport(t, "--policy", "policy.yaml", "--baseline", base.Path, "a.bin")
	if f := rep.Facts.IMA; code != 0 || f == nil || f.Baseline != base.Digest || f.InScope != 8 || f.LogEntries != 5 {
		t.Fatalf("verify --baseline: exit %d, IMA facts %+v; want baseline %s, 8 entries in scope, 5 carried", code, f, base.Digest)
	}

	t.Run("--baseline FILE missing", func(t *testing.T) {
		_, stderr, code := runMain(t, "", "verify", "--policy", "policy.yaml", "--baseline", "no-such-dir", "a.bin")
		if code != 2 || !strings.Contains(stderr, "no-such-dir") {
			t.Fatalf("exit %d, stderr %q; want 2 naming no-such-dir", code, stderr)
		}
	})
	t.Run("baseline missing", func(t *testing.T) {
		wantBaselineRefused(t, base.Digest, "none among 0 baseline file(s)", "--policy", "policy.yaml", "a.bin")
		// Another file is not it.
		wantBaselineRefused(t, base.Digest, "none among 1 baseline file(s)", "--policy", "policy.yaml", "--baseline", rsa.Path, "a.bin")
	})
	t.Run("baseline of another AK", func(t *testing.T) {
		// The signer names the RSA AK's baseline (same position and PCR
		// 10 value) and signs again: only the baseline's AK differs.
		signer, err := provenance.LoadSigner("signer.key", nil)
		if err != nil {
			t.Fatal(err)
		}
		resign(t, signer, "a.bin.intoto.jsonl", "rsa.intoto.jsonl", func(p []byte) []byte {
			return []byte(strings.Replace(string(p), base.Digest, rsa.Digest, 1))
		})
		if got := tpmIMAPredicate(t, "rsa.intoto.jsonl").IMA.Baseline.Digest; got != rsa.Digest {
			t.Fatalf("the re-signed attestation names %s", got)
		}
		wantBaselineRefused(t, "the attestation's AK "+base.AKFingerprint, rsa.AKFingerprint,
			"--policy", "policy.yaml", "--baseline", rsa.Path, "--attestation", "rsa.intoto.jsonl", "a.bin")
	})
}

// Builds with --baseline-dir: the first makes the boot's baseline, the
// second one continuing it, each attestation carrying only the entries
// since its own baseline; verify --baseline DIR passes both; without the
// directory, or without the first link, the second is refused.
func TestBaselineDirCLI(t *testing.T) {
	r := newIMARunner(t)
	dir := "baselines"
	out, code := r.build(t, "a.bin", 2, "--baseline-dir", dir)
	if code != 0 || !strings.Contains(out, "made and continues the IMA baseline") {
		t.Fatalf("first build --baseline-dir: exit %d\n%s", code, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"+provenance.BaselineSuffix))
	if len(files) != 1 {
		t.Fatalf("%d baselines after the first build, want 1: %v", len(files), files)
	}
	first, err := provenance.LoadBaseline(files[0])
	if err != nil {
		t.Fatal(err)
	}
	wantCarried(t, "a.bin.intoto.jsonl", first, 3, 2, 3)

	r.grow(t, 4)
	if out, code := r.build(t, "b.bin", 3, "--baseline-dir", dir); code != 0 {
		t.Fatalf("second build --baseline-dir: exit %d\n%s", code, out)
	}
	files, _ = filepath.Glob(filepath.Join(dir, "*"+provenance.BaselineSuffix))
	if len(files) != 2 {
		t.Fatalf("%d baselines after the second build, want 2: %v", len(files), files)
	}
	ref := tpmIMAPredicate(t, "b.bin.intoto.jsonl").IMA.Baseline
	var second *provenance.BaselineRef
	for _, f := range files {
		if b, err := provenance.LoadBaseline(f); err == nil && b.Digest == ref.Digest {
			second = b
		}
	}
	if second == nil {
		t.Fatalf("the second attestation names %s, in none of %v", ref.Digest, files)
	}
	// The second carries only its 3 entries, after the first build's 2
	// and the 4 between.
	wantCarried(t, "b.bin.intoto.jsonl", second, 9, 3, 9)

	mustRun(t, "policy", "init", "--from", "b.bin.intoto.jsonl", "--key", "signer.pub", "--baseline", dir, "-o", "policy.yaml")
	if out, code := verifyExit(t, "--policy", "policy.yaml", "--baseline", dir, "a.bin", "b.bin"); code != 0 {
		t.Fatalf("verify --baseline DIR: exit %d\n%s", code, out)
	}

	t.Run("directory missing", func(t *testing.T) {
		wantBaselineRefused(t, second.Digest, "none among 0 baseline file(s)", "--policy", "policy.yaml", "b.bin")
	})
	t.Run("first link missing", func(t *testing.T) {
		// The second baseline alone: its previous one (the first) is
		// named as expected.
		wantBaselineRefused(t, first.Digest, "none among the baseline files", "--policy", "policy.yaml", "--baseline", second.Path, "b.bin")
	})
}

// Baseline flag mistakes are usage errors (exit 2), found before the build
// runs.
func TestBaselineUsageErrors(t *testing.T) {
	r := newIMARunner(t)
	mustRun(t, r.flags("baseline", "-o", "boot"+provenance.BaselineSuffix)...)
	writeFile(t, "not-a-baseline.json", "{}\n")
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"--baseline with --baseline-dir", []string{"--baseline", "boot" + provenance.BaselineSuffix, "--baseline-dir", "d"}, "[baseline baseline-dir] were all set"},
		{"--baseline FILE missing", []string{"--baseline", "no-such" + provenance.BaselineSuffix}, "no-such" + provenance.BaselineSuffix},
		{"--baseline a directory", []string{"--baseline", "."}, "is a directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ran := filepath.Join(t.TempDir(), "ran")
			_, stderr, code := runMain(t, "", append(r.flags(c.args...), "--", "touch", ran)...)
			if code != 2 || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, stderr %q; want 2 naming %q", code, stderr, c.want)
			}
			if _, err := os.Stat(ran); err == nil {
				t.Fatal("the build ran")
			}
		})
	}
	// A file that is not a baseline is bad input (exit 1), named.
	t.Run("--baseline FILE not a baseline", func(t *testing.T) {
		ran := filepath.Join(t.TempDir(), "ran")
		_, stderr, code := runMain(t, "", append(r.flags("--baseline", "not-a-baseline.json"), "--", "touch", ran)...)
		if code != 1 || !strings.Contains(stderr, "not-a-baseline.json") {
			t.Fatalf("exit %d, stderr %q; want 1 naming the file", code, stderr)
		}
		if _, err := os.Stat(ran); err == nil {
			t.Fatal("the build ran")
		}
	})
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"baseline without -o", r.flags("baseline"), "no output"},
		{"baseline with an argument", r.flags("baseline", "-o", "x"+provenance.BaselineSuffix, "extra"), "unknown command"},
		{"baseline without PCR 10", r.flags("baseline", "-o", "x"+provenance.BaselineSuffix, "--pcrs", "sha256:0-9"), "--pcrs"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, code := runMain(t, "", c.args...)
			if code != 2 || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, stderr %q; want 2 naming %q", code, stderr, c.want)
			}
			if _, err := os.Stat("x" + provenance.BaselineSuffix); err == nil {
				t.Fatal("a baseline was written")
			}
		})
	}
}

// A baseline signed by the TPM-resident key (-k tpm) that the AK certified,
// under a policy that names only the attestation CA: the build continuing
// it verifies with it. A baseline of the same TPM, AK and log signed by
// another TPM-resident key (no certification by the AK carried) is refused
// at ima-baseline, though the attestation naming it is signed by the
// certified key.
func TestBaselineTPMKeyCLI(t *testing.T) {
	e := enrollRunner(t, "--software-ek-roots")
	t.Chdir(e.dir)
	r := &imaRunner{sw: e.sw, extend: imatest.SWTPMExtender(t, e.sw)}
	r.log = e.f("binary_runtime_measurements")
	imatest.Append(t, r.log, []string{"boot_aggregate"}, r.extend)
	r.grow(t, 2)
	tpmKey := []string{"--tpm", e.sw.Ref(), "--ima-log", r.log, "-k", "tpm", "--tpm-key-auth", e.auth, "--ak-cert", e.akPEM}
	// A build with -k tpm: r.build's flags with the file key replaced.
	build := func(t *testing.T, name string, extra ...string) (string, int) {
		t.Helper()
		argv := imatest.GrowDuring(t, t.TempDir(), r.log, r.paths(2), r.extend, "echo "+name+" > "+name)
		_, stderr, code := runMain(t, "", append(append(append(append([]string{}, tpmKey...), extra...), "-a", name, "--"), argv...)...)
		return stderr, code
	}

	mustRun(t, append([]string{"baseline", "-o", "boot" + provenance.BaselineSuffix}, tpmKey...)...)
	base, err := provenance.LoadBaseline("boot" + provenance.BaselineSuffix)
	if err != nil {
		t.Fatal(err)
	}
	// Another TPM-resident key in the same TPM, of the same log.
	other := fmt.Sprintf("0x%08x", tpm.DefaultSigningKeyHandle+0x10)
	mustRun(t, "baseline", "-o", "other"+provenance.BaselineSuffix, "--tpm", e.sw.Ref(), "--ima-log", r.log,
		"-k", "tpm", "--tpm-key-auth", e.f("other.auth"), "--tpm-key-handle", other)
	if out, code := build(t, "a.bin", "--baseline", base.Path); code != 0 {
		t.Fatalf("build -k tpm --baseline: exit %d\n%s", code, out)
	}
	wantCarried(t, "a.bin.intoto.jsonl", base, 3, 2, 3)
	mustRun(t, "policy", "init", "--from", "a.bin.intoto.jsonl", "--baseline", base.Path, "-o", "policy.yaml")
	if pol := mustRead(t, "policy.yaml"); !strings.Contains(pol, "attestationKeyCAs:") || strings.Contains(pol, "BEGIN PUBLIC KEY") {
		t.Fatalf("policy init wrote no CA-only policy:\n%s", pol)
	}
	if out, code := verifyExit(t, "--policy", "policy.yaml", "--baseline", base.Path, "a.bin"); code != 0 {
		t.Fatalf("verify --baseline of a -k tpm baseline: exit %d\n%s", code, out)
	}

	t.Run("baseline signed by another TPM key", func(t *testing.T) {
		if out, code := build(t, "b.bin", "--baseline", "other"+provenance.BaselineSuffix); code != 0 {
			t.Fatalf("build -k tpm --baseline (another key's): exit %d\n%s", code, out)
		}
		rep, code := verifyReport(t, "--policy", "policy.yaml", "--baseline", "other"+provenance.BaselineSuffix, "b.bin")
		if sig := checkOf(t, rep, verify.CheckSignature); sig.Status != verify.StatusPass {
			t.Fatalf("the attestation's own signature: %+v", sig)
		}
		c := checkOf(t, rep, verify.CheckIMABaseline)
		if code != 1 || c.Status != verify.StatusFail || !strings.Contains(c.Expected, "a signature by one of") || c.Found != "none that verifies" {
			t.Fatalf("a baseline of another TPM key: exit %d, %+v", code, c)
		}
	})
}
