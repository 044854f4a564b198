package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/bootlog"
	"github.com/attest-build/attest-build/internal/realtest"
	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/provenance/verify"
)

// ovmfSecureBoot is the firmware image e2e.sh boots with Secure Boot on.
const ovmfSecureBoot = "/usr/share/OVMF/OVMF_CODE_4M.ms.fd"

// secureBootBoots boots the good scenario twice with OVMF and Secure Boot on,
// through Debian's signed shim and grub (e2e.sh E2E_FW=ovmf-sb-shim): once
// with IMA's parameters on the kernel command line, once without.
func (h *harness) secureBootBoots(t *testing.T, tpmState string) (sb, noIMA *boot) {
	t.Helper()
	realtest.LookPath(t, "mcopy", "mtools")
	realtest.LookPath(t, "mkfs.vfat", "dosfstools")
	if _, err := os.Stat(ovmfSecureBoot); err != nil {
		realtest.Missing(t, ovmfSecureBoot, "install the Debian package ovmf (make test does)")
	}
	sb = h.bootEnv(t, "sb-good", "good", tpmState, "E2E_FW=ovmf-sb-shim")
	noIMA = h.bootEnv(t, "sb-noima", "good", tpmState, "E2E_FW=ovmf-sb-shim", "E2E_IMA=0")
	return sb, noIMA
}

// bootEnv boots like boot, in folder name, with extra e2e.sh environment.
func (h *harness) bootEnv(t *testing.T, name, scenario, tpmState string, env ...string) *boot {
	t.Helper()
	saved := h.env
	h.env = env
	defer func() { h.env = saved }()
	b := h.bootIn(t, name, scenario, tpmState)
	return b
}

// bootLogState checks the boot log b's attestation carries: it is the
// guest's binary_bios_measurements byte for byte, and replays to the PCRs
// 0-9 of both quotes (whose signatures and nonces the checkquote subtests
// verify); it returns the boot state.
func bootLogState(t *testing.T, b *boot) *bootlog.State {
	t.Helper()
	bl := b.att.tpmima.BootLog
	if bl == nil || !bl.Present {
		t.Fatalf("boot %s: the attestation carries no boot log: %+v", b.scenario, bl)
	}
	if bl.Encoding != predicates.BootLogEncoding {
		t.Fatalf("boot %s: boot log encoding %q", b.scenario, bl.Encoding)
	}
	raw := zstdDecode(t, bl.Data)
	if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != bl.SHA256 {
		t.Fatalf("boot %s: the carried boot log's SHA-256 is not bootLog.sha256", b.scenario)
	}
	if !bytes.Equal(raw, b.read(t, "binary_bios_measurements")) {
		t.Fatalf("boot %s: the carried boot log differs from the guest's binary_bios_measurements", b.scenario)
	}
	l, err := bootlog.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	var st *bootlog.State
	for _, q := range []predicates.Quote{b.att.tpmima.Quotes.Start, b.att.tpmima.Quotes.End} {
		pcrs, err := bootlog.QuotedPCRs(q.PCRs)
		if err != nil {
			t.Fatal(err)
		}
		if st, err = l.Verify(pcrs); err != nil {
			t.Fatalf("boot %s: the carried boot log does not replay to a quote: %v", b.scenario, err)
		}
	}
	return st
}

func zstdDecode(t *testing.T, data []byte) []byte {
	t.Helper()
	cmd := exec.Command("zstd", "-d", "-c", "-q")
	cmd.Stdin = bytes.NewReader(data)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("zstd -d: %v: %s", err, stderr.String())
	}
	return raw
}

// checkBootState checks the boot states of the SeaBIOS boot (good) and the
// two Secure Boot boots against what the harness booted: the kernel's
// Authenticode digest computed here from Debian's signed vmlinuz, the
// command line e2e.sh wrote into grub.cfg.
func checkBootState(t *testing.T, h *harness, good, sb, noIMA *boot) (kernel string) {
	t.Run("seabios/boot-state", func(t *testing.T) {
		st := bootLogState(t, good)
		if st.Firmware != bootlog.FirmwareBIOS || st.SecureBoot.Enabled || st.SecureBoot.Verified {
			t.Errorf("SeaBIOS boot state %+v: want legacy BIOS, Secure Boot off", st)
		}
	})
	vmlinuz, err := filepath.Glob(filepath.Join(h.work, "kernel", "boot", "vmlinuz-*"))
	if err != nil || len(vmlinuz) != 1 {
		t.Fatalf("kernel image in %s: %v %v", h.work, vmlinuz, err)
	}
	img, err := os.ReadFile(vmlinuz[0])
	if err != nil {
		t.Fatal(err)
	}
	kernel = "sha256:" + authenticode(t, img)
	for _, c := range []struct {
		b    *boot
		ima  bool
		name string
	}{{sb, true, "sb-good"}, {noIMA, false, "sb-noima"}} {
		t.Run(c.name+"/boot-state", func(t *testing.T) {
			st := bootLogState(t, c.b)
			if !st.SecureBoot.Verified || st.Loader != bootlog.LoaderGrub {
				t.Errorf("Secure Boot %+v, loader %q: want verified, grub", st.SecureBoot, st.Loader)
			}
			if st.Kernel == nil || st.Kernel.Digest != kernel || st.Kernel.Path != "/vmlinuz" {
				t.Errorf("kernel %+v: want /vmlinuz at Authenticode %s", st.Kernel, kernel)
			}
			cmdline := "console=ttyS0 no_timer_check rootfstype=ramfs panic=-1"
			if c.ima {
				cmdline += " ima_policy=tcb ima_template=ima-ng ima_hash=sha256"
			}
			cmdline += " e2e.scenario=good"
			if st.CommandLine == nil || st.CommandLine.Value != cmdline {
				t.Errorf("command line %+v, want %q", st.CommandLine, cmdline)
			}
			initrd := sha256.Sum256(readFile(t, filepath.Join(h.work, "initrd.gz")))
			if st.Initrd == nil || st.Initrd.Digest != "sha256:"+hex.EncodeToString(initrd[:]) {
				t.Errorf("initrd %+v, want the harness's initrd.gz (sha256 %x)", st.Initrd, initrd)
			}
		})
	}
	return kernel
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// authenticode is the Authenticode SHA-256 of a PE/COFF image (the digest
// shim and the firmware measure for an application they verify): the
// headers without the checksum and the certificate table entry, the
// sections in file order, then what follows them but the certificates.
func authenticode(t *testing.T, b []byte) string {
	t.Helper()
	u16 := func(off int) int { return int(binary.LittleEndian.Uint16(b[off:])) }
	u32 := func(off int) int { return int(binary.LittleEndian.Uint32(b[off:])) }
	pe := u32(0x3c)
	if string(b[pe:pe+4]) != "PE\x00\x00" {
		t.Fatal("authenticode: not a PE image")
	}
	opt := pe + 24
	dataDirs := opt + 96
	if u16(opt) == 0x20b { // PE32+
		dataDirs = opt + 112
	}
	checksum, certEntry := opt+64, dataDirs+4*8
	sizeOfHeaders := u32(opt + 60)
	h := sha256.New()
	h.Write(b[:checksum])
	h.Write(b[checksum+4 : certEntry])
	h.Write(b[certEntry+8 : sizeOfHeaders])
	type section struct{ ptr, size int }
	var secs []section
	nsec, optSize := u16(pe+6), u16(pe+20)
	for i := 0; i < nsec; i++ {
		s := opt + optSize + 40*i
		if size := u32(s + 16); size > 0 {
			secs = append(secs, section{u32(s + 20), size})
		}
	}
	sort.Slice(secs, func(i, j int) bool { return secs[i].ptr < secs[j].ptr })
	summed := sizeOfHeaders
	for _, s := range secs {
		h.Write(b[s.ptr : s.ptr+s.size])
		summed += s.size
	}
	if certSize := u32(certEntry + 4); len(b) > summed {
		h.Write(b[summed : len(b)-certSize])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// checkBootPolicy verifies the boots' artifacts under the policy policy init
// writes from the Secure Boot boot (Secure Boot required, the kernel and
// boot loaders by digest, IMA's parameters required): the Secure Boot boot
// passes; the SeaBIOS boot (no Secure Boot) and the boot without IMA on the
// command line are refused at boot-rules; the Secure Boot attestation with
// its boot log edited in one event (re-signed by the build's key) is
// refused at boot-log, naming PCR 4.
func checkBootPolicy(t *testing.T, h *harness, good, sb, noIMA *boot, kernel string) {
	dir := t.TempDir()
	initial, policy := filepath.Join(dir, "sb-init.yaml"), filepath.Join(dir, "sb-policy.yaml")
	h.attestBuild(t, "policy", "init", "--from", sb.att.path, "--key", h.key+".pub", "-o", initial)
	h.writePolicy(t, initial, policy, map[string]any{"exclude": []string{"/project/out/app.bin"}})
	text := string(readFile(t, policy))
	for _, want := range []string{"secureBoot: required", kernel, "ima_policy=tcb", "forbid: [ima_appraise=off]"} {
		if !strings.Contains(text, want) {
			t.Fatalf("policy init from the Secure Boot boot lacks %q:\n%s", want, text)
		}
	}
	t.Run("sb-good/verify", func(t *testing.T) {
		code, r := h.verify(t, policy, sb.att.path, sb.path("app.bin"))
		if code != 0 {
			t.Fatalf("verify exit status %d (%s)", code, r.Error)
		}
		wantChecks(t, r, "")
		b := r.Facts.Boot
		if b == nil || b.State == nil || !b.State.SecureBoot.Verified || b.State.Kernel.Digest != kernel {
			t.Errorf("verified boot facts %+v: want Secure Boot verified, kernel %s", b, kernel)
		}
	})
	for _, c := range []struct {
		name string
		b    *boot
		rule string
	}{{"seabios/sb-policy", good, "secureBoot"}, {"sb-noima/sb-policy", noIMA, "commandLine.require"}} {
		t.Run(c.name, func(t *testing.T) {
			code, r := h.verify(t, policy, c.b.att.path, c.b.path("app.bin"))
			if code != 1 {
				t.Errorf("verify exit status %d, want 1", code)
			}
			wantChecks(t, r, verify.CheckBootRules)
			if b := r.Facts.Boot; b == nil || len(b.Findings) == 0 || b.Findings[0].Rule != c.rule {
				t.Errorf("boot findings %+v, want rule %s first", r.Facts.Boot, c.rule)
			}
		})
	}
	t.Run("sb-good/edited-boot-log", func(t *testing.T) {
		edited := filepath.Join(t.TempDir(), "edited.intoto.jsonl")
		editBootLog(t, h, sb.att.path, edited, kernel)
		code, r := h.verify(t, policy, edited, sb.path("app.bin"))
		if code != 1 {
			t.Errorf("verify exit status %d, want 1", code)
		}
		wantChecks(t, r, verify.CheckBootLog)
		for _, c := range r.Checks {
			if c.Check == verify.CheckBootLog && !strings.Contains(c.Expected, "PCR 4") {
				t.Errorf("boot-log failure does not name PCR 4: expected %q, found %q", c.Expected, c.Found)
			}
		}
	})
}

// editBootLog writes to dst the attestation src with one byte of the
// kernel's PCR 4 event digest changed in the carried boot log (the log's
// SHA-256 updated), both statements re-signed with the build's key as a
// holder of a stolen key would: the SLSA byproducts name the new TPM/IMA
// statement and boot log, so that only the boot log's replay can refuse it.
func editBootLog(t *testing.T, h *harness, src, dst, kernel string) {
	t.Helper()
	signer, err := provenance.LoadSigner(h.key+".key", nil)
	if err != nil {
		t.Fatal(err)
	}
	digest, err := hex.DecodeString(strings.TrimPrefix(kernel, "sha256:"))
	if err != nil {
		t.Fatal(err)
	}
	var stmts []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(readFile(t, src)), []byte("\n")) {
		var env struct {
			Payload string `json:"payload"`
		}
		if err := json.Unmarshal(line, &env); err != nil {
			t.Fatal(err)
		}
		payload, err := base64.StdEncoding.DecodeString(env.Payload)
		if err != nil {
			t.Fatal(err)
		}
		var st map[string]any
		if err := json.Unmarshal(payload, &st); err != nil {
			t.Fatal(err)
		}
		stmts = append(stmts, st)
	}
	newDigest := map[string]string{} // byproduct name -> sha256 hex
	bodies := make([][]byte, len(stmts))
	for i, st := range stmts {
		if st["predicateType"] != predicates.TPMIMAType {
			continue
		}
		bl := st["predicate"].(map[string]any)["bootLog"].(map[string]any)
		data, err := base64.StdEncoding.DecodeString(bl["data"].(string))
		if err != nil {
			t.Fatal(err)
		}
		raw := zstdDecode(t, data)
		j := bytes.Index(raw, digest)
		if j < 0 {
			t.Fatal("the carried boot log holds no kernel digest")
		}
		raw[j+7] ^= 0x10
		sum := sha256.Sum256(raw)
		bl["sha256"] = hex.EncodeToString(sum[:])
		bl["data"] = base64.StdEncoding.EncodeToString(zstdEncode(t, raw))
		body, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		bodies[i] = body
		bsum := sha256.Sum256(body)
		newDigest["tpm-ima-statement"], newDigest["boot-log"] = hex.EncodeToString(bsum[:]), bl["sha256"].(string)
	}
	if len(newDigest) == 0 {
		t.Fatal("no TPM/IMA statement in the attestation")
	}
	for i, st := range stmts {
		if bodies[i] != nil {
			continue
		}
		rd, _ := st["predicate"].(map[string]any)["runDetails"].(map[string]any)
		bps, _ := rd["byproducts"].([]any)
		for _, b := range bps {
			bp := b.(map[string]any)
			if d, ok := newDigest[bp["name"].(string)]; ok {
				bp["digest"] = map[string]any{"sha256": d}
			}
		}
		body, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		bodies[i] = body
	}
	var out bytes.Buffer
	for _, body := range bodies {
		signed, err := signer.SignStatement(t.Context(), body)
		if err != nil {
			t.Fatal(err)
		}
		out.Write(bytes.TrimSpace(signed))
		out.WriteByte('\n')
	}
	if err := os.WriteFile(dst, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func zstdEncode(t *testing.T, raw []byte) []byte {
	t.Helper()
	cmd := exec.Command("zstd", "-c", "-q")
	cmd.Stdin = bytes.NewReader(raw)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("zstd: %v", err)
	}
	return out
}
