package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/attest-build/attest-build/internal/realtest"
)

// scenarios are the guest workloads of guest/scenario.sh, one boot each.
var scenarios = []string{"good", "disallowed", "violation"}

// disallowedScript is what guest/scenario.sh writes to /tmp/fetch-deps.sh in
// the disallowed scenario; IMA must record exactly its SHA-256.
const disallowedScript = "#!/bin/sh\necho \"fetch-deps: downloading extra build inputs\"\n"

// harness runs e2e.sh.
type harness struct {
	script string
	work   string // cache folder shared by runs (git-ignored)
	bin    string // the static attest-build that is in the initramfs
	runDir string // this run's boots
	ctx    context.Context
}

// boot is one boot's output: the guest's /out and the boot time.
type boot struct {
	scenario string
	files    string
	secs     time.Duration
}

func (b *boot) path(name string) string { return filepath.Join(b.files, name) }

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
		{"tpm2", "tpm2-tools"},
		{"tpm2_checkquote", "tpm2-tools"},
		{"evmctl", "ima-evm-utils"},
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
	cmd.Env = append(os.Environ(), "E2E_WORK="+h.work)
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
	dir := filepath.Join(h.runDir, scenario)
	start := time.Now()
	out, err := h.run("boot", scenario, dir, tpmState)
	if err != nil {
		t.Fatalf("e2e.sh boot %s: %v\n%s\nconsole tail:\n%s", scenario, err, out, tail(filepath.Join(dir, "console.log"), 20))
	}
	b := &boot{scenario: scenario, files: filepath.Join(dir, "files"), secs: time.Since(start)}
	status := strings.TrimSpace(string(b.read(t, "scenario.status")))
	if status != "0" {
		t.Fatalf("boot %s: guest scenario exit status %s:\n%s", scenario, status, b.read(t, "scenario.log"))
	}
	t.Logf("boot %s: %.1fs to poweroff; guest uptime at /init %ss, at end %ss", scenario, b.secs.Seconds(),
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

// TestRealKernel boots Debian's kernel with IMA and swtpm once per scenario
// and checks what each build left, on the host, with independent tools.
func TestRealKernel(t *testing.T) {
	h := newHarness(t)
	state := h.tpm(t)
	boots := map[string]*boot{}
	for _, s := range scenarios {
		boots[s] = h.boot(t, s, state)
	}

	for _, s := range scenarios {
		b := boots[s]
		t.Run(s+"/checkquote", func(t *testing.T) {
			checkQuote(t, b, "start", strings.TrimSpace(string(b.read(t, "start.nonce"))))
			checkQuote(t, b, "end", b.artifactDigest(t))
		})
		t.Run(s+"/evmctl", func(t *testing.T) {
			quoted := checkQuote(t, b, "end", b.artifactDigest(t))
			// evmctl refuses a log with violations unless told to ignore them
			// (then it replays them as the kernel extends them, 0xff...).
			violations := s == "violation"
			quotedPCRs := "sha256," + writePCR10(t, b.files, quoted)
			if violations {
				if out, err := evmctlRun(b, false, quotedPCRs); err == nil {
					t.Fatalf("evmctl accepted a log with a violation without --ignore-violations:\n%s", out)
				}
			}
			// The log read after the end quote replays to the quoted PCR 10 ...
			evmctl(t, b, violations, quotedPCRs)
			// ... and, in both banks, to the PCRs the guest read from sysfs right after it.
			evmctl(t, b, violations, "sha256,"+b.path("pcr-sha256"), "sha1,"+b.path("pcr-sha1"))
			// A PCR 10 the log does not lead to must fail: evmctl is really comparing.
			wrong := bytes.Clone(quoted)
			wrong[0] ^= 1
			if out, err := evmctlRun(b, violations, "sha256,"+writePCR10(t, t.TempDir(), wrong)); err == nil {
				t.Fatalf("evmctl accepted a PCR 10 the log does not replay to:\n%s", out)
			}
		})
	}

	for _, s := range scenarios {
		b := boots[s]
		t.Run(s+"/attest-build-ima-replay", func(t *testing.T) {
			// The product's replay of the real kernel's log gives the sysfs PCR 10 in
			// both banks, and the end quote's PCR 10 is reached by the whole log.
			for _, bank := range []string{"sha1", "sha256"} {
				got := strings.TrimSpace(h.attestBuild(t, "ima", "replay", "--log", b.path("binary_runtime_measurements"), "--bank", bank))
				if want := sysfsPCR10(t, b, bank); got != want {
					t.Errorf("attest-build ima replay --bank %s = %s, sysfs PCR 10 = %s", bank, got, want)
				}
			}
			quoted := checkQuote(t, b, "end", b.artifactDigest(t))
			got := strings.TrimSpace(h.attestBuild(t, "ima", "replay", "--log", b.path("binary_runtime_measurements"),
				"--bank", "sha256", "--match", hex.EncodeToString(quoted)))
			if want := fmt.Sprint(asciiLog(t, b).entries); got != want {
				t.Errorf("attest-build ima replay --match (end quote's PCR 10) = %s entries, the log has %s", got, want)
			}
		})
		t.Run(s+"/attest-build-tpm", func(t *testing.T) {
			info := string(b.read(t, "product-tpm-info.txt"))
			for _, want := range []string{"/dev/tpmrm0 (device)", "sha1, sha256"} {
				if !strings.Contains(info, want) {
					t.Errorf("attest-build tpm info in the guest does not say %q:\n%s", want, info)
				}
			}
			if blk, _ := pem.Decode(b.read(t, "product-ak.pem")); blk == nil || blk.Type != "PUBLIC KEY" {
				t.Errorf("attest-build tpm ak --out wrote no PEM public key")
			}
		})
	}
	t.Run("good/measured", func(t *testing.T) {
		log := asciiLog(t, boots["good"])
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
		sum := sha256.Sum256([]byte(disallowedScript))
		got, ok := asciiLog(t, boots["disallowed"]).digest("/tmp/fetch-deps.sh")
		if !ok {
			t.Fatal("IMA log of the disallowed build has no entry for /tmp/fetch-deps.sh")
		}
		if want := hex.EncodeToString(sum[:]); got != want {
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
		want, _ := asciiLog(t, boots["good"]).digest("/project/out/build.log")
		if got == "" || got != want {
			t.Errorf("IMA digest of /project/out/build.log: violation boot %q, good boot %q; want equal", got, want)
		}
	})
	t.Run("cross-boot/checkquote", func(t *testing.T) {
		// The good boot's end quote must not verify with another boot's artifact.
		good, other := boots["good"], boots["disallowed"]
		if good.artifactDigest(t) == other.artifactDigest(t) {
			t.Fatal("two boots built identical artifacts; the build id should differ")
		}
		if out, err := checkQuoteRun(good, "end", other.artifactDigest(t)); err == nil {
			t.Fatalf("tpm2_checkquote accepted the good boot's end quote with the disallowed boot's artifact digest:\n%s", out)
		}
	})
	t.Run("same-ak", func(t *testing.T) {
		want := boots["good"].read(t, "ak.pem")
		wantProduct := boots["good"].read(t, "product-ak.pem")
		for _, s := range scenarios[1:] {
			if got := boots[s].read(t, "ak.pem"); !bytes.Equal(got, want) {
				t.Errorf("boot %s has another attestation key than boot good; a policy could not trust both", s)
			}
			if got := boots[s].read(t, "product-ak.pem"); !bytes.Equal(got, wantProduct) {
				t.Errorf("boot %s: attest-build tpm ak gave another key than in boot good", s)
			}
		}
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

// sysfsPCR10 returns PCR 10 of bank as the guest read it from sysfs, lowercase hex.
func sysfsPCR10(t *testing.T, b *boot, bank string) string {
	t.Helper()
	for _, line := range strings.Split(string(b.read(t, "pcr-"+bank)), "\n") {
		if v, ok := strings.CutPrefix(line, "PCR-10: "); ok {
			return strings.ToLower(strings.TrimSpace(v))
		}
	}
	t.Fatalf("boot %s: no PCR-10 in pcr-%s", b.scenario, bank)
	return ""
}

// checkQuote verifies quote NAME (NAME.msg, .sig, .pcrs) of boot b with
// tpm2_checkquote against the AK and the qualifying data nonce (hex), and
// returns the PCR 10 value the quote covers.
func checkQuote(t *testing.T, b *boot, name, nonce string) []byte {
	t.Helper()
	out, err := checkQuoteRun(b, name, nonce)
	if err != nil {
		t.Fatalf("tpm2_checkquote %s quote of boot %s (nonce %s): %v\n%s", name, b.scenario, nonce, err, out)
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

func checkQuoteRun(b *boot, name, nonce string) (string, error) {
	out, err := exec.Command("tpm2_checkquote", "-u", b.path("ak.pem"), "-m", b.path(name+".msg"),
		"-s", b.path(name+".sig"), "-f", b.path(name+".pcrs"), "-g", "sha256", "-q", nonce).CombinedOutput()
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

// evmctl checks boot b's binary IMA log with evmctl ima_measurement against
// the PCR files given as "bank,path"; ignoreViolations adds --ignore-violations.
func evmctl(t *testing.T, b *boot, ignoreViolations bool, pcrs ...string) {
	t.Helper()
	if out, err := evmctlRun(b, ignoreViolations, pcrs...); err != nil {
		t.Fatalf("evmctl ima_measurement (ignore violations: %v) %v on boot %s's log: %v\n%s", ignoreViolations, pcrs, b.scenario, err, out)
	}
}

func evmctlRun(b *boot, ignoreViolations bool, pcrs ...string) (string, error) {
	args := []string{"ima_measurement"}
	if ignoreViolations {
		args = append(args, "--ignore-violations")
	}
	for _, p := range pcrs {
		args = append(args, "--pcrs", p)
	}
	args = append(args, b.path("binary_runtime_measurements"))
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
