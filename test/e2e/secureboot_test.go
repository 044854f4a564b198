package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"

	"github.com/attest-build/attest-build/bootlog"
	"github.com/attest-build/attest-build/internal/realtest"
	"github.com/attest-build/attest-build/predicates"
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
func checkBootState(t *testing.T, h *harness, good, sb, noIMA *boot) {
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
	kernel := "sha256:" + authenticode(t, img)
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
			cmdline := "console=ttyS0 rootfstype=ramfs panic=-1"
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


