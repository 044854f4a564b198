package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/attest-build/attest-build/internal/realtest"
	"github.com/attest-build/attest-build/provenance/policy"
	"github.com/attest-build/attest-build/provenance/verify"
)

// scenarios are the guest workloads of guest/scenario.sh, one boot each.
var scenarios = []string{"good", "disallowed", "violation"}

// disallowedScript is what guest/scenario.sh writes to /tmp/fetch-deps.sh in
// the disallowed scenario; IMA must record exactly its SHA-256.
const disallowedScript = "#!/bin/sh\necho \"fetch-deps: downloading extra build inputs\"\n"

// harness runs e2e.sh.
type harness struct {
	script string
	work   string   // cache folder shared by runs (git-ignored)
	bin    string   // the static attest-build that is in the initramfs
	key    string   // the build's signing key: key.pub for the verifier, key.key in the initramfs
	runDir string   // this run's boots
	env    []string // extra environment of e2e.sh (bootEnv)
	ctx    context.Context
}

// boot is one boot's output: the guest's /out and the boot time.
type boot struct {
	scenario string
	files    string
	secs     time.Duration
	att      *attestation // the attestation the build wrote
}

func (b *boot) path(name string) string { return filepath.Join(b.files, name) }

// tpmState is the folder of the TPM's state as the boot left it (e2e.sh boot).
func (b *boot) tpmState() string { return filepath.Join(filepath.Dir(b.files), "tpmstate") }

func (b *boot) read(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(b.path(name))
	if err != nil {
		t.Fatalf("boot %s: %v", b.scenario, err)
	}
	return data
}

// artifactDigest is the hex SHA-256 of the artifact the guest built, computed on the host.
func (b *boot) artifactDigest(t *testing.T) string {
	sum := sha256.Sum256(b.read(t, "app.bin"))
	return hex.EncodeToString(sum[:])
}

// newHarness checks that every real component is present (realtest: skip
// locally, fail under CI) and prepares the kernel, busybox and initramfs.
func newHarness(t *testing.T) *harness {
	t.Helper()
	if testing.Short() && !realtest.Required() {
		t.Skip("skipping the real-kernel e2e under -short: it boots QEMU once per scenario")
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		realtest.Missing(t, "linux/amd64 host", "the e2e boots Debian's amd64 kernel; this is "+runtime.GOOS+"/"+runtime.GOARCH)
	}
	for _, p := range []struct{ prog, pkg string }{
		{"qemu-system-x86_64", "qemu-system-x86"},
		{"swtpm", "swtpm"},
		{"swtpm_setup", "swtpm-tools"},
		{"tpm2_checkquote", "tpm2-tools"},
		{"evmctl", "ima-evm-utils"},
		{"zstd", "zstd"},
		{"cpio", "cpio"},
		{"apt-get", "apt"},
		{"dpkg", "dpkg"},
		{"flock", "util-linux"},
		{"go", "the Go toolchain"},
	} {
		realtest.LookPath(t, p.prog, p.pkg)
	}
	script, err := filepath.Abs("e2e.sh")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{script: script, work: filepath.Join(filepath.Dir(script), ".work"), ctx: t.Context()}
	h.bin = filepath.Join(h.work, "bin", "attest-build")
	h.key = filepath.Join(h.work, "keys", "signer")
	if err := os.MkdirAll(h.work, 0o755); err != nil {
		t.Fatal(err)
	}
	h.runDir, err = os.MkdirTemp(h.work, "run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("boot outputs kept in %s", h.runDir)
			return
		}
		os.RemoveAll(h.runDir)
	})
	start := time.Now()
	out, err := h.run("prepare")
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 3 {
		realtest.Missing(t, "Debian packages (kernel, busybox-static)", "could not be fetched from the Debian mirror:\n"+out)
	}
	if err != nil {
		t.Fatalf("e2e.sh prepare: %v\n%s", err, out)
	}
	t.Logf("prepare: %.1fs (%s)", time.Since(start).Seconds(), strings.Join(strings.Fields(readOr(filepath.Join(h.work, "times"))), " "))
	return h
}

func readOr(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}

// run runs e2e.sh with args and returns its combined output.
func (h *harness) run(args ...string) (string, error) {
	cmd := exec.CommandContext(h.ctx, h.script, args...)
	cmd.Env = append(append(os.Environ(), "E2E_WORK="+h.work), h.env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// tpm manufactures the TPM every boot starts from, so the attestation key
// (a primary key derived from the owner seed) is the same in every boot.
func (h *harness) tpm(t *testing.T) string {
	t.Helper()
	state := filepath.Join(h.runDir, "tpmstate")
	if out, err := h.run("tpm", state); err != nil {
		t.Fatalf("e2e.sh tpm: %v\n%s", err, out)
	}
	return state
}

// boot boots the VM once with scenario and returns what the guest carried out.
func (h *harness) boot(t *testing.T, scenario, tpmState string) *boot {
	t.Helper()
	return h.bootIn(t, scenario, scenario, tpmState)
}

// bootIn boots the VM once with scenario, its output in folder name, and
// reads the attestation its build wrote.
func (h *harness) bootIn(t *testing.T, name, scenario, tpmState string) *boot {
	t.Helper()
	b := h.bootNoBuild(t, name, scenario, tpmState)
	b.att = readAttestation(t, b.path("app.bin.intoto.jsonl"))
	return b
}

// bootNoBuild boots the VM once with scenario, its output in folder name;
// the TPM's state after the boot is in tpmState(b).
func (h *harness) bootNoBuild(t *testing.T, name, scenario, tpmState string) *boot {
	t.Helper()
	dir := filepath.Join(h.runDir, name)
	start := time.Now()
	out, err := h.run("boot", scenario, dir, tpmState)
	if err != nil {
		t.Fatalf("e2e.sh boot %s: %v\n%s\nconsole tail:\n%s", scenario, err, out, tail(filepath.Join(dir, "console.log"), 20))
	}
	b := &boot{scenario: name, files: filepath.Join(dir, "files"), secs: time.Since(start)}
	// On a loaded host the kernel's IO-APIC timer check can fail and panic
	// the guest: e2e.sh turns it off.
	if console := readOr(filepath.Join(dir, "console.log")); !regexp.MustCompile(`Command line: .*\bno_timer_check\b`).MatchString(console) {
		t.Errorf("boot %s: the kernel's command line has no no_timer_check:\n%s", scenario, tail(filepath.Join(dir, "console.log"), 40))
	}
	status := strings.TrimSpace(string(b.read(t, "scenario.status")))
	if status != "0" {
		t.Fatalf("boot %s: guest scenario exit status %s:\n%s", scenario, status, b.read(t, "scenario.log"))
	}
	t.Logf("boot %s: %.1fs to poweroff; guest uptime at /init %ss, at end %ss", name, b.secs.Seconds(),
		strings.TrimSpace(string(b.read(t, "uptime-init"))), strings.TrimSpace(string(b.read(t, "uptime-end"))))
	return b
}

func tail(path string, n int) string {
	lines := strings.Split(strings.TrimRight(readOr(path), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestRealKernel boots Debian's kernel with IMA and swtpm once per scenario;
// in each boot attest-build wraps the build on the kernel's /dev/tpmrm0. On
// the host, attest-build verify checks each artifact under a policy made
// from the good build, and independent tools check the attestations' quotes
// (tpm2_checkquote) and carried IMA logs (evmctl).
func TestRealKernel(t *testing.T) {
	h := newHarness(t)
	state := h.tpm(t)
	boots := map[string]*boot{}
	for _, s := range scenarios {
		boots[s] = h.boot(t, s, state)
	}
	good := boots["good"]
	// Measured boot: OVMF with Secure Boot through shim and grub, with and
	// without IMA on the command line (secureboot_test.go).
	sb, noIMA := h.secureBootBoots(t, state)
	kernel := checkBootState(t, h, good, sb, noIMA)

	// The policy for this build: policy init from the good attestation, with
	// the signer's key; the artifact's own entry (measured when attest-build
	// hashes it) is excluded, since its digest changes with every build.
	dir := t.TempDir()
	initial, policyPath := filepath.Join(dir, "init.yaml"), filepath.Join(dir, "policy.yaml")
	h.attestBuild(t, "policy", "init", "--from", good.att.path, "--key", h.key+".pub", "-o", initial)
	h.writePolicy(t, initial, policyPath, map[string]any{"exclude": []string{"/project/out/app.bin"}})

	// What verify says of each boot's artifact under that policy.
	verdicts := map[string]struct {
		code     int
		failAt   verify.Check // "": every check passes
		findings []policy.IMAFinding
	}{
		"good":       {0, "", nil},
		"disallowed": {1, verify.CheckIMARules, []policy.IMAFinding{{Path: "/tmp/fetch-deps.sh", Digest: "sha256:" + disallowedDigest(), Rule: "allowlist"}}},
		// A violation entry carries an all-zero file digest.
		"violation": {1, verify.CheckIMARules, []policy.IMAFinding{{Path: "/project/out/build.log", Digest: "sha256:" + strings.Repeat("00", sha256.Size), Rule: "violation"}}},
	}
	checkBootPolicy(t, h, good, sb, noIMA, kernel)
	for _, s := range scenarios {
		b, want := boots[s], verdicts[s]
		t.Run(s+"/verify", func(t *testing.T) {
			code, r := h.verify(t, policyPath, b.att.path, b.path("app.bin"))
			if code != want.code {
				t.Errorf("verify exit status %d, want %d (%s)", code, want.code, r.Error)
			}
			wantChecks(t, r, want.failAt)
			checkFacts(t, b, r)
			if got := r.Facts.IMA.Findings; !sameFindings(got, want.findings) || r.Facts.IMA.FindingsTotal != len(want.findings) {
				t.Errorf("IMA findings (%d in all):\n%+v\nwant:\n%+v", r.Facts.IMA.FindingsTotal, got, want.findings)
			}
		})
	}
	t.Run("violation/allowViolations", func(t *testing.T) {
		allow := filepath.Join(t.TempDir(), "allow-violations.yaml")
		h.writePolicy(t, policyPath, allow, map[string]any{"allowViolations": true})
		b := boots["violation"]
		code, r := h.verify(t, allow, b.att.path, b.path("app.bin"))
		if code != 0 {
			t.Errorf("verify with allowViolations: true: exit status %d (%s)", code, r.Error)
		}
		wantChecks(t, r, "")
		checkFacts(t, b, r)
		if r.Facts.IMA.Violations != 1 {
			t.Errorf("verify counted %d violations in scope, want 1", r.Facts.IMA.Violations)
		}
	})
	t.Run("cross-boot", func(t *testing.T) {
		// The good boot's attestation with the disallowed boot's artifact.
		other := boots["disallowed"]
		if good.artifactDigest(t) == other.artifactDigest(t) {
			t.Fatal("two boots built identical artifacts; the build id should differ")
		}
		code, r := h.verify(t, policyPath, good.att.path, other.path("app.bin"))
		if code != 1 {
			t.Errorf("verify of another boot's artifact: exit status %d, want 1", code)
		}
		wantChecks(t, r, verify.CheckSubjects)
		// Independently: the end quote's nonce is the good artifact's digest only.
		a := good.att
		q := a.writeQuote(t, t.TempDir(), "end", a.tpmima.Quotes.End)
		if out, err := checkQuoteRun(q, other.artifactDigest(t)); err == nil {
			t.Errorf("tpm2_checkquote accepted the good boot's end quote with the disallowed boot's artifact digest:\n%s", out)
		}
	})

	for _, s := range scenarios {
		b := boots[s]
		t.Run(s+"/checkquote", func(t *testing.T) {
			a := b.att
			dir := t.TempDir()
			checkQuote(t, a.writeQuote(t, dir, "start", a.tpmima.Quotes.Start), a.tpmima.Nonce.Start)
			quoted := checkQuote(t, a.writeQuote(t, dir, "end", a.tpmima.Quotes.End), b.artifactDigest(t))
			if !bytes.Equal(quoted, a.endPCR10(t)) {
				t.Errorf("tpm2_checkquote's PCR 10 %x differs from the predicate's %x", quoted, a.endPCR10(t))
			}
		})
		t.Run(s+"/evmctl", func(t *testing.T) {
			a := b.att
			dir := t.TempDir()
			carried := filepath.Join(dir, "ima.log")
			if err := os.WriteFile(carried, a.imaLog(t), 0o644); err != nil {
				t.Fatal(err)
			}
			// The end quote's PCR 10, as tpm2_checkquote verified it.
			quoted := checkQuote(t, a.writeQuote(t, dir, "end", a.tpmima.Quotes.End), b.artifactDigest(t))
			// evmctl refuses a log with violations unless told to ignore them
			// (then it replays them as the kernel extends them, 0xff...).
			violations := s == "violation"
			quotedPCRs := "sha256," + writePCR10(t, dir, quoted)
			if violations {
				if out, err := evmctlRun(carried, false, quotedPCRs); err == nil {
					t.Fatalf("evmctl accepted a log with a violation without --ignore-violations:\n%s", out)
				}
			}
			// The log carried in the attestation replays to the quoted PCR 10 ...
			evmctl(t, carried, violations, quotedPCRs)
			// ... and, in both banks, to the PCRs the guest read from sysfs after
			// attest-build ended: it is the kernel's whole log, which the guest read too.
			evmctl(t, carried, violations, "sha256,"+b.path("pcr-sha256"), "sha1,"+b.path("pcr-sha1"))
			if !bytes.Equal(a.imaLog(t), b.read(t, "binary_runtime_measurements")) {
				t.Errorf("the IMA log carried in the attestation differs from the kernel's, read after the build")
			}
			// A PCR 10 the log does not lead to must fail: evmctl is really comparing.
			wrong := bytes.Clone(quoted)
			wrong[0] ^= 1
			if out, err := evmctlRun(carried, violations, "sha256,"+writePCR10(t, dir, wrong)); err == nil {
				t.Fatalf("evmctl accepted a PCR 10 the log does not replay to:\n%s", out)
			}
		})
	}

	t.Run("good/measured", func(t *testing.T) {
		log := asciiLog(t, good)
		for _, path := range []string{"/project/build.sh", "/project/tools/configure.sh", "/project/tools/cc.sh",
			"/project/tools/ld.sh", "/project/src/main.c", "/project/src/greet.c", "/project/out/build.log", "/project/out/app.bin"} {
			if _, ok := log.digest(path); !ok {
				t.Errorf("IMA log of the good build has no entry for %s", path)
			}
		}
		if _, ok := log.digest("/tmp/fetch-deps.sh"); ok {
			t.Errorf("good build's IMA log measured /tmp/fetch-deps.sh, which only the disallowed scenario runs")
		}
		if log.violations != 0 {
			t.Errorf("good build: %d IMA violations, want 0", log.violations)
		}
	})
	t.Run("disallowed/measured", func(t *testing.T) {
		got, ok := asciiLog(t, boots["disallowed"]).digest("/tmp/fetch-deps.sh")
		if !ok {
			t.Fatal("IMA log of the disallowed build has no entry for /tmp/fetch-deps.sh")
		}
		if want := disallowedDigest(); got != want {
			t.Errorf("IMA digest of /tmp/fetch-deps.sh = %s, want %s (sha256 of the script)", got, want)
		}
	})
	t.Run("violation/measured", func(t *testing.T) {
		log := asciiLog(t, boots["violation"])
		if !log.violated["/project/out/build.log"] {
			t.Errorf("no open_writers violation entry for /project/out/build.log (violations: %d)", log.violations)
		}
		// The log is measured as well, with the content the good build's read had:
		// only the violation sets the two runs apart.
		got, _ := log.digest("/project/out/build.log")
		want, _ := asciiLog(t, good).digest("/project/out/build.log")
		if got == "" || got != want {
			t.Errorf("IMA digest of /project/out/build.log: violation boot %q, good boot %q; want equal", got, want)
		}
	})
}

// disallowedDigest is the hex SHA-256 of disallowedScript.
func disallowedDigest() string {
	sum := sha256.Sum256([]byte(disallowedScript))
	return hex.EncodeToString(sum[:])
}

// checkFacts asserts the facts every verification of boot b establishes up
// to the IMA rules: the artifact as the one subject, the TPM device, the AK
// the attestation carries, and the IMA window.
func checkFacts(t *testing.T, b *boot, r verify.AttestationResult) {
	t.Helper()
	a := b.att
	f := r.Facts
	if want := []verify.VerifiedSubject{{Name: "out/app.bin", SHA256: b.artifactDigest(t)}}; !slices.Equal(f.Subjects, want) {
		t.Errorf("verified subjects %+v, want %+v", f.Subjects, want)
	}
	if f.TPMMode != "device" {
		t.Errorf("verified TPM mode %q, want device (the kernel's /dev/tpmrm0)", f.TPMMode)
	}
	if f.AKFingerprint != a.tpmima.AttestationKey.Fingerprint {
		t.Errorf("verified AK %s, the attestation carries %s", f.AKFingerprint, a.tpmima.AttestationKey.Fingerprint)
	}
	m := f.IMA
	// policy init's default scope: every entry since boot, not only the window.
	if m == nil || !m.Present || m.Bank != "sha256" || m.Scope != policy.ScopeBoot {
		t.Fatalf("verified IMA facts %+v: want present, sha256, boot scope", m)
	}
	w := a.tpmima.IMA.Window
	if m.WindowStart != w.Start || m.WindowEnd != w.End || m.LogEntries != w.End || m.InScope != w.End || m.Excluded != 1 {
		t.Errorf("verified IMA facts %+v: want window [%d, %d) ending the log, the whole log in scope, 1 excluded (the artifact)", m, w.Start, w.End)
	}
}

// sameFindings compares IMA findings by path, digest and rule (not by entry
// index or wording).
func sameFindings(got, want []policy.IMAFinding) bool {
	return slices.EqualFunc(got, want, func(g, w policy.IMAFinding) bool {
		return g.Path == w.Path && g.Digest == w.Digest && g.Rule == w.Rule
	})
}

// attestBuild runs the static attest-build on the host and returns its stdout.
func (h *harness) attestBuild(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(h.bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("attest-build %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// checkQuote verifies quote q with tpm2_checkquote against its AK and the
// qualifying data nonce (hex), and returns the PCR 10 value it covers.
func checkQuote(t *testing.T, q quoteFiles, nonce string) []byte {
	t.Helper()
	out, err := checkQuoteRun(q, nonce)
	if err != nil {
		t.Fatalf("tpm2_checkquote %s (nonce %s): %v\n%s", q.msg, nonce, err, out)
	}
	// tpm2_checkquote prints the PCR values it checked the quote's digest against:
	// "pcrs:\n  sha256:\n    10: 0xHEX".
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "10: 0x"); ok {
			pcr, err := hex.DecodeString(v)
			if err != nil || len(pcr) != sha256.Size {
				t.Fatalf("tpm2_checkquote printed a bad PCR 10 %q", v)
			}
			return pcr
		}
	}
	t.Fatalf("tpm2_checkquote printed no sha256 PCR 10:\n%s", out)
	return nil
}

func checkQuoteRun(q quoteFiles, nonce string) (string, error) {
	out, err := exec.Command("tpm2_checkquote", "-u", q.ak, "-m", q.msg, "-s", q.sig, "-f", q.pcrs,
		"-g", "sha256", "-q", nonce).CombinedOutput()
	return string(out), err
}

// writePCR10 writes a file for evmctl --pcrs holding PCR 10 = pcr. evmctl
// reads PCR-00, PCR-01, ... in order and skips PCRs the log never extends, so
// PCRs 0-9 are written as zeros.
func writePCR10(t *testing.T, dir string, pcr []byte) string {
	t.Helper()
	var buf bytes.Buffer
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&buf, "PCR-%02d: %s\n", i, strings.Repeat("00", len(pcr)))
	}
	fmt.Fprintf(&buf, "PCR-10: %x\n", pcr)
	f, err := os.CreateTemp(dir, "pcr10-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// evmctl checks the binary IMA log with evmctl ima_measurement against the
// PCR files given as "bank,path"; ignoreViolations adds --ignore-violations.
func evmctl(t *testing.T, log string, ignoreViolations bool, pcrs ...string) {
	t.Helper()
	if out, err := evmctlRun(log, ignoreViolations, pcrs...); err != nil {
		t.Fatalf("evmctl ima_measurement (ignore violations: %v) %v on %s: %v\n%s", ignoreViolations, pcrs, log, err, out)
	}
}

func evmctlRun(log string, ignoreViolations bool, pcrs ...string) (string, error) {
	args := []string{"ima_measurement"}
	if ignoreViolations {
		args = append(args, "--ignore-violations")
	}
	for _, p := range pcrs {
		args = append(args, "--pcrs", p)
	}
	args = append(args, log)
	out, err := exec.Command("evmctl", args...).CombinedOutput()
	return string(out), err
}

// imaASCII is what the test reads from the kernel's ascii_runtime_measurements
// ("PCR template-hash ima-ng sha256:DIGEST PATH" per line).
type imaASCII struct {
	entries    int
	digests    map[string]string // path -> last file digest (hex)
	violated   map[string]bool   // paths with a violation entry (all-zero template hash)
	violations int
}

func (l *imaASCII) digest(path string) (string, bool) {
	d, ok := l.digests[path]
	return d, ok
}

func asciiLog(t *testing.T, b *boot) *imaASCII {
	t.Helper()
	l := &imaASCII{digests: map[string]string{}, violated: map[string]bool{}}
	zero := strings.Repeat("0", 40)
	for i, line := range strings.Split(strings.TrimSpace(string(b.read(t, "ascii_runtime_measurements"))), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || f[2] != "ima-ng" {
			t.Fatalf("boot %s: ascii IMA log line %d: want 'PCR hash ima-ng alg:digest path', got %q", b.scenario, i+1, line)
		}
		path := strings.Join(f[4:], " ")
		l.entries++
		if f[1] == zero {
			l.violations++
			l.violated[path] = true
			continue
		}
		alg, digest, ok := strings.Cut(f[3], ":")
		if !ok || alg != "sha256" {
			t.Fatalf("boot %s: ascii IMA log line %d: file digest %q is not sha256:HEX", b.scenario, i+1, f[3])
		}
		l.digests[path] = digest
	}
	return l
}

// TestVMTimeoutScalesWithLoad: a boot's timeout grows with the host's load
// (QEMU's TCG emulation slows in proportion), from 240 s on an idle host to
// at most 900 s; E2E_VM_TIMEOUT overrides it.
func TestVMTimeoutScalesWithLoad(t *testing.T) {
	nproc, err := exec.Command("nproc").Output()
	if err != nil {
		realtest.Missing(t, "nproc", "install coreutils")
	}
	cpus := strings.TrimSpace(string(nproc))
	dir := t.TempDir()
	for _, tc := range []struct {
		load, override, want string
	}{
		{"0.10", "", "240"},
		{"3*" + cpus, "", "720"},
		{"100000", "", "900"},
		{"100000", "60", "60"},
	} {
		load := tc.load
		if n, ok := strings.CutPrefix(load, "3*"); ok {
			var c int
			fmt.Sscan(n, &c)
			load = fmt.Sprint(3 * c)
		}
		f := filepath.Join(dir, "loadavg")
		if err := os.WriteFile(f, []byte(load+" 1.00 1.00 1/100 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("./e2e.sh", "timeout")
		cmd.Env = append(os.Environ(), "E2E_FW=seabios", "E2E_LOADAVG="+f, "E2E_VM_TIMEOUT="+tc.override)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("e2e.sh timeout: %v\n%s", err, out)
		}
		if got := strings.TrimSpace(string(out)); got != tc.want {
			t.Errorf("load %s, E2E_VM_TIMEOUT=%q: timeout %s s, want %s", load, tc.override, got, tc.want)
		}
	}
}
