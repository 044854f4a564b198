package bootlog

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/evidence"
)

// readPCRs reads a pcrs.txt of testdata ("BANK INDEX HEX" per line, sysfs
// values read at the end of the run) and keeps PCRs 0-9.
func readPCRs(t testing.TB, path string) PCRValues {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := PCRValues{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 3 {
			continue
		}
		b, err := evidence.ParseBank(fs[0])
		if err != nil {
			t.Fatal(err)
		}
		i, err := strconv.Atoi(fs[1])
		if err != nil || i > 9 {
			continue
		}
		v, err := hex.DecodeString(fs[2])
		if err != nil {
			t.Fatal(err)
		}
		if out[b] == nil {
			out[b] = map[int][]byte{}
		}
		out[b][i] = v
	}
	return out
}

func readLog(t testing.TB, path string) *Log {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse(%s): %v", path, err)
	}
	return l
}

// selfPCRs replays every bank of the log to PCRs 0-9, for logs that come
// without PCR values; a bank the log cannot replay (an event without its
// digest) is left out.
func selfPCRs(l *Log) PCRValues {
	out := PCRValues{}
	for _, b := range l.Banks() {
		vals := map[int][]byte{}
		for _, i := range BootPCRs {
			var re *ReplayError
			err := l.replay(b, i, make([]byte, b.Size()))
			switch {
			case err == nil:
				vals[i] = make([]byte, b.Size())
			case errors.As(err, &re) && re.Replayed != nil:
				vals[i] = re.Replayed
			default:
				vals = nil
			}
			if vals == nil {
				break
			}
		}
		if vals != nil {
			out[b] = vals
		}
	}
	return out
}

// rawEvent is the place of one event in a crypto-agile log, for tests
// that edit a log.
type rawEvent struct {
	off, end int // the event's bytes
	pcr, typ uint32
	digests  map[evidence.Bank][2]int // bank -> [start, end) of its digest
	data     [2]int                   // [start, end) of the event data
}

// rawEvents walks a crypto-agile log (test helper; Parse is the parser).
func rawEvents(t testing.TB, log []byte) []rawEvent {
	t.Helper()
	le := func(b []byte) uint32 { return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24 }
	// The first event is in the SHA-1 form: pcr, type, digest[20], size, data.
	p := 32 + int(le(log[28:]))
	var out []rawEvent
	for p < len(log) {
		e := rawEvent{off: p, pcr: le(log[p:]), typ: le(log[p+4:]), digests: map[evidence.Bank][2]int{}}
		n := int(le(log[p+8:]))
		q := p + 12
		for range n {
			b := evidence.Bank(uint16(log[q]) | uint16(log[q+1])<<8)
			e.digests[b] = [2]int{q + 2, q + 2 + b.Size()}
			q += 2 + b.Size()
		}
		size := int(le(log[q:]))
		e.data = [2]int{q + 4, q + 4 + size}
		e.end = q + 4 + size
		out = append(out, e)
		p = e.end
	}
	return out
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestVerifyReal replays the real logs of testdata (see testdata/README.md)
// to the PCRs the same machine read, and checks the boot state each records.
func TestVerifyReal(t *testing.T) {
	const (
		shimDigest   = "sha256:80a66d53a945d2286fcadd780fae1c225aa732079cd67b5225dc78aaab4e2ff8"
		grubDigest   = "sha256:a68f6d71ebddaa19751ff8d729f67d11b0df8e4c49400c3e7e90de16119e1265"
		kernelSigned = "sha256:61e79ca0acd7e9f18984bea7b44650801ed54fd95a8786c16c583b86acf9d538"
		cmdline      = "console=ttyS0 ima_policy=tcb ima_hash=sha256 ima_template=ima-ng panic=-1 rootfstype=ramfs vmlab.nonce=846f7f3026c6ec324117d518d3c132c622aac9b1"
	)
	tests := []struct {
		name              string
		firmware, loader  string
		enabled, verified bool
		apps              []string
		kernel            *Kernel
		cmdline           *CommandLine
		initrd            *File
		authorities       int
	}{
		{name: "ovmf-sb-shim", firmware: FirmwareUEFI, loader: LoaderGrub, enabled: true, verified: true,
			apps:        []string{shimDigest, grubDigest, kernelSigned, kernelSigned},
			kernel:      &Kernel{Digest: kernelSigned, Path: "/vmlinuz", FileDigest: "sha256:85667e6c72245133bd7e3e80bac7d16b26fda15c0a3c68faa4b713850ea526cd"},
			cmdline:     &CommandLine{Value: cmdline, Known: true},
			initrd:      &File{Path: "/initrd.gz", Digest: "sha256:08c6e09d06de9c303debd81e9aad1656e90b2f88f572ae020763f8e95340de4c"},
			authorities: 2},
		// OVMF's direct boot: the kernel event precedes "Calling EFI
		// Application from Boot Option"; the command line is a digest only.
		{name: "ovmf", firmware: FirmwareUEFI, loader: LoaderDirect,
			apps:    []string{"sha256:b7c01209691fba1594a8740b8497fe3f591822f63887d897bde93aaa981ae6ce"},
			kernel:  &Kernel{Digest: "sha256:b7c01209691fba1594a8740b8497fe3f591822f63887d897bde93aaa981ae6ce", Path: "kernel"},
			cmdline: &CommandLine{Digest: "sha256:e1ec60f5697440c75544cad4d5143e1dfc5f6c3ae4acf6b1eda55ab5c30d2cc5"},
			initrd:  &File{Digest: "sha256:9b233ee1fc090222ff45c24bb681f6ab539fcf00c02ef27faffa9370f7b76baa"}},
		// SeaBIOS: 0xFFFFFFFF separators, no UEFI events, no kernel event.
		{name: "seabios", firmware: FirmwareBIOS, loader: LoaderUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := readLog(t, filepath.Join("testdata", tc.name, "binary_bios_measurements"))
			st, err := l.Verify(readPCRs(t, filepath.Join("testdata", tc.name, "pcrs.txt")))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if st.Firmware != tc.firmware || st.Loader != tc.loader || st.Bank != "sha256" {
				t.Errorf("firmware %q loader %q bank %q, want %q %q sha256", st.Firmware, st.Loader, st.Bank, tc.firmware, tc.loader)
			}
			if st.SecureBoot.Enabled != tc.enabled || st.SecureBoot.Verified != tc.verified {
				t.Errorf("Secure Boot %+v, want enabled %v verified %v", st.SecureBoot, tc.enabled, tc.verified)
			}
			if !tc.verified && st.SecureBoot.Reason == "" {
				t.Errorf("Secure Boot not verified and no reason given")
			}
			var apps []string
			for _, a := range st.Applications {
				apps = append(apps, a.Digest)
			}
			if strings.Join(apps, " ") != strings.Join(tc.apps, " ") {
				t.Errorf("applications %v, want %v", apps, tc.apps)
			}
			if !equalPtr(st.Kernel, tc.kernel) || !equalPtr(st.CommandLine, tc.cmdline) || !equalPtr(st.Initrd, tc.initrd) {
				t.Errorf("kernel %+v cmdline %+v initrd %+v,\nwant %+v %+v %+v", st.Kernel, st.CommandLine, st.Initrd, tc.kernel, tc.cmdline, tc.initrd)
			}
			if len(st.Authorities) != tc.authorities {
				t.Errorf("%d authorities %+v, want %d", len(st.Authorities), st.Authorities, tc.authorities)
			}
		})
	}
}

func equalPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// TestSecureBootVariables checks the PK/KEK/db/dbx of the Secure Boot run
// (Debian's PK, Microsoft's and Debian's KEK, Microsoft's db) and the
// authorities that verified shim and grub.
func TestSecureBootVariables(t *testing.T) {
	l := readLog(t, "testdata/ovmf-sb-shim/binary_bios_measurements")
	st, err := l.Verify(readPCRs(t, "testdata/ovmf-sb-shim/pcrs.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range st.Variables {
		s := v.Name
		for _, c := range v.Certificates {
			s += " [" + strings.SplitN(c.Subject, ",", 2)[0] + "]"
		}
		if v.Hashes > 0 {
			s += " " + strconv.Itoa(v.Hashes) + " hashes"
		}
		got = append(got, s)
	}
	want := []string{
		"SecureBoot",
		"PK [CN=Debian UEFI Secure Boot (PK/KEK key)]",
		"KEK [CN=Debian UEFI Secure Boot (PK/KEK key)] [CN=Microsoft Corporation KEK CA 2011]",
		"db [CN=Microsoft Windows Production PCA 2011] [CN=Microsoft Corporation UEFI CA 2011]",
		"dbx 1 hashes",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("variables:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if a := st.Authorities; len(a) != 2 || !strings.HasPrefix(a[0].Subject, "CN=Microsoft Corporation UEFI CA 2011") || a[1].Subject != "CN=Debian Secure Boot CA" {
		t.Errorf("authorities %+v: want Microsoft's UEFI CA (shim) then Debian's Secure Boot CA (grub, from shim's vendor db)", a)
	}
}

// TestReplayEveryBank changes one quoted PCR at a time, in each bank: Verify
// must refuse naming that bank and PCR, with both values.
func TestReplayEveryBank(t *testing.T) {
	l := readLog(t, "testdata/ovmf-sb-shim/binary_bios_measurements")
	for _, b := range []evidence.Bank{evidence.SHA1, evidence.SHA256} {
		for _, i := range BootPCRs {
			pcrs := readPCRs(t, "testdata/ovmf-sb-shim/pcrs.txt")
			quoted := pcrs[b][i]
			quoted[3] ^= 0x40
			_, err := l.Verify(pcrs)
			var re *ReplayError
			if !errors.As(err, &re) || !errors.Is(err, ErrReplay) {
				t.Fatalf("%v PCR %d changed: Verify gave %v, want a *ReplayError", b, i, err)
			}
			if re.Bank != b || re.PCR != i || !slices.Equal(re.Quoted, quoted) || re.Replayed == nil || slices.Equal(re.Replayed, quoted) {
				t.Errorf("%v PCR %d changed: %+v", b, i, re)
			}
		}
	}
}

// TestEmptyPCR: go-attestation accepts any value for a PCR the log has no
// event for; Verify wants the reset value (SeaBIOS logs nothing in PCRs 8-9).
func TestEmptyPCR(t *testing.T) {
	l := readLog(t, "testdata/seabios/binary_bios_measurements")
	pcrs := readPCRs(t, "testdata/seabios/pcrs.txt")
	if !slices.Equal(pcrs[evidence.SHA256][8], make([]byte, 32)) {
		t.Fatal("testdata: SeaBIOS PCR 8 is not zero")
	}
	pcrs[evidence.SHA256][8] = digestOf(evidence.SHA256, []byte("an extend the log does not show"))
	_, err := l.Verify(pcrs)
	var re *ReplayError
	if !errors.As(err, &re) || re.PCR != 8 || re.Events != 0 || re.Bank != evidence.SHA256 {
		t.Fatalf("PCR 8 extended outside the log: Verify gave %v, want a *ReplayError for sha256 PCR 8 with 0 events", err)
	}
}

func TestNotQuoted(t *testing.T) {
	l := readLog(t, "testdata/ovmf-sb-shim/binary_bios_measurements")
	pcrs := readPCRs(t, "testdata/ovmf-sb-shim/pcrs.txt")
	delete(pcrs[evidence.SHA256], 5)
	delete(pcrs[evidence.SHA1], 5)
	if _, err := l.Verify(pcrs); !errors.Is(err, ErrNotQuoted) {
		t.Errorf("PCR 5 quoted in no bank: Verify gave %v, want ErrNotQuoted", err)
	}
	// PCR 5 in sha1 only: the sha256 state cannot be read, the sha1 one can.
	pcrs = readPCRs(t, "testdata/ovmf-sb-shim/pcrs.txt")
	delete(pcrs[evidence.SHA256], 5)
	st, err := l.Verify(pcrs)
	if err != nil || st.Bank != "sha1" {
		t.Errorf("sha256 without PCR 5: Verify gave %+v, %v; want the state in sha1", st, err)
	}
}

// TestEditedEvent edits one event of the Secure Boot log at a time and
// replays it to the real PCRs.
func TestEditedEvent(t *testing.T) {
	orig := readFile(t, "testdata/ovmf-sb-shim/binary_bios_measurements")
	evs := rawEvents(t, orig)
	find := func(pcr, typ uint32, contains string) rawEvent {
		for _, e := range evs {
			if e.pcr == pcr && e.typ == typ && strings.Contains(string(orig[e.data[0]:e.data[1]]), contains) {
				return e
			}
		}
		t.Fatalf("testdata: no event PCR %d type %#x containing %q", pcr, typ, contains)
		return rawEvent{}
	}
	kernel := evs[len(evs)-1]
	for _, e := range evs {
		if e.pcr == 4 && e.typ == evEFIBootServicesApp {
			kernel = e
		}
	}
	tests := []struct {
		name    string
		edit    func(log []byte)
		wantPCR int // -1: an *EventError, not a replay error
	}{
		{"kernel digest", func(log []byte) { log[kernel.digests[evidence.SHA256][0]] ^= 1 }, 4},
		{"kernel sha1 digest", func(log []byte) { log[kernel.digests[evidence.SHA1][0]] ^= 1 }, 4},
		{"grub command digest", func(log []byte) {
			e := find(8, evIPL, "grub_cmd: boot")
			log[e.digests[evidence.SHA256][1]-1] ^= 0x80
		}, 8},
		{"kernel command line text", func(log []byte) {
			e := find(8, evIPL, "kernel_cmdline:")
			copy(log[e.data[0]:e.data[1]], strings.Replace(string(log[e.data[0]:e.data[1]]), "ima_policy=tcb", "ima_pxlicy=tcb", 1))
		}, -1},
		{"SecureBoot variable value", func(log []byte) {
			e := find(7, evEFIVariableConfig, "S\x00e\x00c\x00u\x00r\x00e\x00B")
			log[e.data[1]-1] = 0
		}, -1},
	}
	pcrs := readPCRs(t, "testdata/ovmf-sb-shim/pcrs.txt")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log := slices.Clone(orig)
			tc.edit(log)
			l, err := Parse(log)
			if err != nil {
				t.Fatal(err)
			}
			st, err := l.Verify(pcrs)
			if tc.wantPCR >= 0 {
				var re *ReplayError
				if !errors.As(err, &re) || re.PCR != tc.wantPCR {
					t.Fatalf("Verify gave %+v, %v; want a replay error for PCR %d", st, err, tc.wantPCR)
				}
				return
			}
			var ee *EventError
			if !errors.As(err, &ee) || !errors.Is(err, ErrEventData) {
				t.Fatalf("Verify gave %+v, %v; want an *EventError (data not matching its digest)", st, err)
			}
		})
	}
}

// TestSecureBootDirectKernel: Secure Boot on in the firmware, the kernel
// started directly (QEMU -kernel): OVMF verifies and measures nothing in
// PCR 4 and uses no db key. Built from the Secure Boot log by dropping the
// boot applications, authorities and grub's events, as OVMF's log of such a
// boot has them (../shared/notes/measured-boot.md).
func TestSecureBootDirectKernel(t *testing.T) {
	orig := readFile(t, "testdata/ovmf-sb-shim/binary_bios_measurements")
	evs := rawEvents(t, orig)
	log := slices.Clone(orig[:evs[0].off])
	for _, e := range evs {
		if e.typ == evEFIBootServicesApp || e.typ == evEFIVariableAuth || e.pcr == 8 || e.pcr == 9 || e.pcr == 14 {
			continue
		}
		log = append(log, orig[e.off:e.end]...)
	}
	l, err := Parse(log)
	if err != nil {
		t.Fatal(err)
	}
	st, err := l.Verify(selfPCRs(l))
	if err != nil {
		t.Fatal(err)
	}
	if !st.SecureBoot.Enabled || st.SecureBoot.Verified || st.Kernel != nil || st.CommandLine != nil {
		t.Errorf("Secure Boot on with a directly started kernel: state %+v, kernel %+v, cmdline %+v; want enabled, not verified, no kernel, no command line", st.SecureBoot, st.Kernel, st.CommandLine)
	}
}

// TestGoAttestationLogs reads go-attestation's real logs (GCE Shielded VMs,
// Ubuntu and Fedora CoreOS through shim and grub, Secure Boot off; a Secure
// Boot log; option ROMs; a log missing an EBS event) replayed to
// themselves: no PCR values come with them.
func TestGoAttestationLogs(t *testing.T) {
	tests := []struct {
		file              string
		loader            string
		enabled, verified bool
		cmdline           string
	}{
		{"ubuntu_2104_shielded_vm_no_secure_boot_eventlog", LoaderGrub, false, false, "root=PARTUUID=6443a6ae-e5e9-4df7-9a06-d1329e50f33c ro console=ttyS0 panic=-1"},
		{"coreos_36_shielded_vm_no_secure_boot_eventlog", LoaderGrub, false, false, "mitigations=auto,nosmt console=tty0 console=ttyS0,115200n8 ignition.firstboot ostree=/ostree/boot.1/fedora-coreos/28f8e018c4312083b210ce13c9fdab9dcb7883a0200802dca4eeddc1030eb715/0 ignition.platform.id=gcp"},
		{"sb_cert_eventlog", LoaderUnknown, true, true, ""},
		{"crypto_agile_eventlog", LoaderUnknown, false, false, ""},
		{"option_rom_eventlog", LoaderUnknown, true, false, ""}, // Windows' boot manager: no kernel in PCR 4
		{"ebs_event_missing_eventlog", LoaderUnknown, false, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			l := readLog(t, filepath.Join("testdata/go-attestation", tc.file))
			st, err := l.Verify(selfPCRs(l))
			if err != nil {
				t.Fatal(err)
			}
			if st.Loader != tc.loader || st.SecureBoot.Enabled != tc.enabled || st.SecureBoot.Verified != tc.verified {
				t.Errorf("loader %q, Secure Boot %+v; want %q, enabled %v, verified %v", st.Loader, st.SecureBoot, tc.loader, tc.enabled, tc.verified)
			}
			got := ""
			if st.CommandLine != nil {
				got = st.CommandLine.Value
			}
			if got != tc.cmdline {
				t.Errorf("command line %q, want %q", got, tc.cmdline)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	good := readFile(t, "testdata/ovmf/binary_bios_measurements")
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrParse},
		{"cut inside an event", good[:len(good)-7], ErrParse},
		{"text", []byte("PCR-00: 0000\n"), ErrParse},
		{"too large", make([]byte, MaxLogSize+1), ErrTooLarge},
	}
	for _, tc := range tests {
		if _, err := Parse(tc.data); !errors.Is(err, tc.want) {
			t.Errorf("%s: Parse gave %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestBootAggregate checks the IMA log's boot_aggregate of each real run
// against its PCRs 0-9 with the one rule (evidence.CheckBootAggregateDigest,
// as verify's boot-log check calls it), and a changed PCR against it.
func TestBootAggregate(t *testing.T) {
	for _, v := range []string{"ovmf", "ovmf-sb-shim", "seabios"} {
		r, err := evidence.NewReader(bytes.NewReader(readFile(t, filepath.Join("testdata", v, "binary_runtime_measurements"))))
		if err != nil {
			t.Fatal(err)
		}
		e, err := r.Next()
		if err != nil || e.Path != "boot_aggregate" {
			t.Fatalf("%s: first IMA entry %+v, %v; want boot_aggregate", v, e, err)
		}
		pcrs := readPCRs(t, filepath.Join("testdata", v, "pcrs.txt"))
		if compared, err := evidence.CheckBootAggregateDigest(e.FileDigestAlg, e.FileDigest, pcrs.BootAggregatePCRs); err != nil || !compared {
			t.Errorf("%s: compared %v, %v", v, compared, err)
		}
		pcrs[evidence.SHA256][9][0] ^= 1
		var ae *evidence.BootAggregateError
		if _, err := evidence.CheckBootAggregateDigest(e.FileDigestAlg, e.FileDigest, pcrs.BootAggregatePCRs); !errors.As(err, &ae) || ae.Computed == nil {
			t.Errorf("%s: PCR 9 changed: gave %v, want an *evidence.BootAggregateError", v, err)
		}
		delete(pcrs[evidence.SHA256], 8)
		if compared, err := evidence.CheckBootAggregateDigest(e.FileDigestAlg, e.FileDigest, pcrs.BootAggregatePCRs); compared || err != nil {
			t.Errorf("%s: PCR 8 not quoted: compared %v, %v; want nothing compared", v, compared, err)
		}
	}
	zeros := PCRValues{evidence.SHA256: {}}
	for i := range 10 {
		zeros[evidence.SHA256][i] = make([]byte, 32)
	}
	var ae *evidence.BootAggregateError
	if _, err := evidence.CheckBootAggregateDigest("sha256", make([]byte, 32), zeros.BootAggregatePCRs); !errors.As(err, &ae) || !strings.Contains(ae.Reason, "no TPM") {
		t.Errorf("all-zero boot_aggregate: %v, want a BootAggregateError saying IMA found no TPM", err)
	}
}

// TestStartupLocality: go-attestation's 49-byte SHA-1 log holds only a
// StartupLocality event (locality 3): PCR 0 starts at 00..03.
func TestStartupLocality(t *testing.T) {
	l := readLog(t, "testdata/go-attestation/short_no_action_eventlog")
	pcrs := PCRValues{evidence.SHA1: {}}
	for _, i := range BootPCRs {
		pcrs[evidence.SHA1][i] = make([]byte, 20)
	}
	var re *ReplayError
	if _, err := l.Verify(pcrs); !errors.As(err, &re) || re.PCR != 0 || re.Replayed[19] != 3 {
		t.Errorf("PCR 0 zero after a locality-3 startup: Verify gave %v, want a replay error for PCR 0 (replayed 00..03)", err)
	}
	pcrs[evidence.SHA1][0][19] = 3
	st, err := l.Verify(pcrs)
	if err != nil || st.Firmware != FirmwareBIOS || st.Events != 0 {
		t.Errorf("Verify gave %+v, %v; want no events, no UEFI", st, err)
	}
}
