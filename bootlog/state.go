package bootlog

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/google/go-attestation/attest"
	"github.com/opencontainers/go-digest"

	"github.com/attest-build/attest-build/evidence"
)

// Firmware kinds.
const (
	FirmwareUEFI = "uefi"
	FirmwareBIOS = "bios" // legacy BIOS (SeaBIOS): no UEFI events, no Secure Boot
)

// Loaders: how the kernel was started.
const (
	// LoaderGrub: grub measured its commands into PCR 8 (through shim when
	// Secure Boot is on).
	LoaderGrub = "grub"
	// LoaderDirect: the firmware started the kernel itself (OVMF with QEMU's
	// -kernel): the kernel event precedes "Calling EFI Application from
	// Boot Option" in PCR 4, and the command line is measured as a digest
	// only.
	LoaderDirect = "direct"
	// LoaderUnknown: neither pattern.
	LoaderUnknown = "unknown"
)

// OVMF's tagged events in PCR 9 for a directly booted kernel.
const (
	tagLoadOptions = 0x8F3B22ED // the kernel command line (UTF-16LE + NUL)
	tagInitrd      = 0x8F3B22EC // the initrd
)

const callingBootOption = "Calling EFI Application from Boot Option"

// Event types the state reads (TCG PC Client PFP, 10.4.1).
const (
	evSeparator          = 0x00000004
	evEventTag           = 0x00000006
	evIPL                = 0x0000000D
	evEFIEventBase       = 0x80000000
	evEFIVariableConfig  = 0x80000001
	evEFIBootServicesApp = 0x80000003
	evEFIAction          = 0x80000007
	evEFIVariableAuth    = 0x800000E0
)

// State is the boot state a verified firmware event log records. Digests are
// "ALG:HEX" in the bank the state was read in (Bank).
type State struct {
	Bank     string `json:"bank"`
	Firmware string `json:"firmware"` // FirmwareUEFI or FirmwareBIOS
	// Events is the number of events in PCRs 0-9.
	Events     int        `json:"events"`
	SecureBoot SecureBoot `json:"secureBoot"`
	// Variables are the Secure Boot variables measured into PCR 7 (SecureBoot,
	// PK, KEK, db, dbx), in log order.
	Variables []Variable `json:"variables,omitempty"`
	// Authorities are the db entries that verified boot applications
	// (EV_EFI_VARIABLE_AUTHORITY in PCR 7, after the separator).
	Authorities []Certificate `json:"authorities,omitempty"`
	// Applications are the boot applications measured into PCR 4, in the
	// order they were loaded: for shim, grub and a kernel, their Authenticode
	// digests.
	Applications []Application `json:"applications,omitempty"`
	Loader       string        `json:"loader"` // LoaderGrub, LoaderDirect or LoaderUnknown
	Kernel       *Kernel       `json:"kernel,omitempty"`
	CommandLine  *CommandLine  `json:"commandLine,omitempty"`
	// Initrd is the initrd's digest: grub's PCR 9 file event after its
	// initrd command, or OVMF's PCR 9 "Linux initrd" tagged event. The
	// pairing rests on the log's order across PCRs, which replay does not
	// bind: a hint for readers, not for policy.
	Initrd *File `json:"initrd,omitempty"`
}

// SecureBoot says whether the boot chain was verified.
type SecureBoot struct {
	// Enabled is the firmware's SecureBoot variable (PCR 7).
	Enabled bool `json:"enabled"`
	// Verified is true only when Secure Boot is enabled, the firmware used a
	// db key to verify a boot application (an authority event after the PCR 7
	// separator), and the kernel was loaded as a verified boot application
	// (a kernel event in PCR 4 after the boot loader's, no application
	// started before "Calling EFI Application from Boot Option"). A kernel
	// the firmware started directly (QEMU -kernel) is neither verified nor
	// measured by Secure Boot: Enabled, not Verified.
	Verified bool `json:"verified"`
	// Reason says why Verified is false.
	Reason string `json:"reason,omitempty"`
}

// Variable is one Secure Boot variable as measured.
type Variable struct {
	Name string `json:"name"`
	// Digest is the measured digest of the variable (its UEFI_VARIABLE_DATA).
	Digest       string        `json:"digest"`
	Certificates []Certificate `json:"certificates,omitempty"`
	Hashes       int           `json:"hashes,omitempty"` // EFI_CERT_SHA256 entries
}

// Certificate names an X.509 certificate.
type Certificate struct {
	Subject string `json:"subject"`
	// SHA256 is "sha256:" and the hex SHA-256 of the DER certificate.
	SHA256 string `json:"sha256"`
}

// Application is one EV_EFI_BOOT_SERVICES_APPLICATION event in PCR 4.
type Application struct {
	Digest string `json:"digest"`
	// Path is the file path of the event's device path, a hint (the digest
	// covers the image, not the path).
	Path string `json:"path,omitempty"`
	// BeforeBootOption: logged before "Calling EFI Application from Boot
	// Option" (OVMF's direct kernel boot).
	BeforeBootOption bool `json:"beforeBootOption,omitempty"`
}

// Kernel identifies the booted kernel.
type Kernel struct {
	// Digest is the kernel's PCR 4 digest (its Authenticode hash; for OVMF's
	// direct boot the hash of the image QEMU patched), "" when no PCR 4 event
	// is the kernel's.
	Digest string `json:"digest,omitempty"`
	// Path is the kernel's path from grub's linux command (bound to PCR 8),
	// or the device path hint of a direct boot.
	Path string `json:"path,omitempty"`
	// FileDigest is the plain digest of the kernel file, from grub's PCR 9
	// event after the linux command (paired by log order: a hint).
	FileDigest string `json:"fileDigest,omitempty"`
}

// CommandLine is the kernel command line.
type CommandLine struct {
	// Value is the command line grub measured (PCR 8 "kernel_cmdline:",
	// without the kernel path grub puts first). Empty when only its digest
	// is in the log.
	Value string `json:"value,omitempty"`
	// Known is true when Value is bound to the PCRs (it hashes to its event's
	// digest).
	Known bool `json:"known"`
	// Digest is the measured digest of the command line as OVMF measured it
	// for a direct boot (UTF-16LE with a NUL; "" for grub).
	Digest string `json:"digest,omitempty"`
}

// File is a file a boot loader measured.
type File struct {
	Path   string `json:"path,omitempty"`
	Digest string `json:"digest"`
}

// numbered is an event with its tpm2_eventlog number.
type numbered struct {
	n int
	e attest.Event
}

// extract reads the boot state from the log's events for PCRs 0-9 in bank
// b. The caller has replayed those PCRs.
func extract(l *Log, b evidence.Bank) (*State, error) {
	all := l.events(b)
	st := &State{Bank: b.String(), Firmware: FirmwareBIOS, Loader: LoaderUnknown}
	var evs []numbered
	for i, e := range all {
		if e.Index < 0 || e.Index > 9 || uint32(e.Type) == evNoAction {
			continue
		}
		evs = append(evs, numbered{l.number(i), e})
		if uint32(e.Type) >= evEFIEventBase {
			st.Firmware = FirmwareUEFI
		}
	}
	st.Events = len(evs)
	dg := func(d []byte) string { return b.String() + ":" + hex.EncodeToString(d) }
	bad := func(n int, e attest.Event, format string, a ...any) error {
		return &EventError{Index: n, PCR: e.Index, Type: e.Type.String(), Err: fmt.Errorf("%w: "+format, append([]any{ErrEventData}, a...)...)}
	}
	bound := func(e attest.Event, data []byte) bool { return bytes.Equal(digestOf(b, data), e.Digest) }

	// PCR 7: Secure Boot variables and authorities; PCR 4: applications;
	// PCR 8: grub's strings; PCR 9: files and OVMF's tagged events.
	var (
		sbVar, seenAuthority, calling bool
		grubLinux, grubInitrd         = -1, -1 // positions in evs of the last linux / initrd command
		lastCmdline                   = ""
		haveCmdline                   bool
		pcr9                          []int // positions in evs of PCR 9 events
	)
	for k, ne := range evs {
		n, e := ne.n, ne.e
		typ := uint32(e.Type)
		switch {
		case e.Index == 7 && typ == evEFIVariableConfig:
			v, err := parseVariable(e.Data)
			if err != nil {
				return nil, bad(n, e, "%v", err)
			}
			if !bound(e, e.Data) {
				return nil, bad(n, e, "variable %s hashes to %s, the event's digest is %s", v.Name, dg(digestOf(b, e.Data)), dg(e.Digest))
			}
			if v.Name == "SecureBoot" {
				// An absent variable is measured with no data: off.
				if len(v.Data) > 1 || len(v.Data) == 1 && v.Data[0] > 1 {
					return nil, bad(n, e, "SecureBoot is %x, want 00, 01 or absent", v.Data)
				}
				sbVar = len(v.Data) == 1 && v.Data[0] == 1
			}
			st.Variables = append(st.Variables, Variable{Name: v.Name, Digest: dg(e.Digest)})
		case e.Index == 7 && typ == evEFIVariableAuth:
			seenAuthority = true
		case e.Index == 4 && typ == evEFIAction:
			if string(e.Data) == callingBootOption && bound(e, e.Data) && !calling {
				calling = true
				// Applications logged so far came before the boot option.
				for i := range st.Applications {
					st.Applications[i].BeforeBootOption = true
				}
			}
		case e.Index == 4 && typ == evEFIBootServicesApp:
			st.Applications = append(st.Applications, Application{Digest: dg(e.Digest), Path: imageLoadPath(e.Data)})
		case e.Index == 8 && typ == evIPL:
			s := strings.TrimSuffix(string(e.Data), "\x00")
			for _, prefix := range []string{"grub_cmd: ", "kernel_cmdline: "} {
				rest, ok := strings.CutPrefix(s, prefix)
				if !ok {
					continue
				}
				if !bound(e, []byte(rest)) {
					return nil, bad(n, e, "%q hashes to %s, the event's digest is %s", rest, dg(digestOf(b, []byte(rest))), dg(e.Digest))
				}
				st.Loader = LoaderGrub
				if prefix == "kernel_cmdline: " {
					lastCmdline, haveCmdline = rest, true
				} else if f := strings.Fields(rest); len(f) >= 2 && (f[0] == "linux" || f[0] == "linuxefi") {
					grubLinux = k
				} else if len(f) >= 2 && (f[0] == "initrd" || f[0] == "initrdefi") {
					grubInitrd = k
				}
			}
		case e.Index == 9:
			pcr9 = append(pcr9, k)
		}
	}

	// Secure Boot.
	switch {
	case st.Firmware == FirmwareBIOS:
		st.SecureBoot.Reason = "legacy BIOS boot: no UEFI Secure Boot"
	case !sbVar:
		st.SecureBoot.Reason = "the firmware's SecureBoot variable is 0"
	}
	if st.Firmware == FirmwareUEFI {
		var sbEvents []attest.Event
		for _, ne := range evs {
			sbEvents = append(sbEvents, ne.e)
		}
		st.SecureBoot.Enabled = sbVar
		sb, err := attest.ParseSecurebootState(sbEvents)
		switch {
		case err != nil && sbVar && !seenAuthority:
			st.SecureBoot.Reason = "Secure Boot is enabled but the firmware verified no boot application (no authority event in PCR 7): the kernel was started directly (e.g. QEMU -kernel), unverified and unmeasured"
		case err != nil && !sbVar:
			// Off: the keys are not needed to say so, and some firmware
			// measures an absent SecureBoot variable go-attestation refuses.
		case err != nil:
			return nil, fmt.Errorf("%w: reading the Secure Boot state: %w", ErrEventData, err)
		default:
			fillVariables(st, sb)
		}
	}

	// Kernel, command line, initrd. The kernel's PCR 4 event is the last
	// application when a loader (not the firmware) loaded it from memory:
	// not the first application, and no file path in its device path (shim
	// and grub are loaded from files). The path is a hint: misreading it can
	// only fail a kernel policy, since every other application must then be
	// an allowed boot loader.
	kernelDigest := ""
	if n := len(st.Applications); n >= 2 && !st.Applications[n-1].BeforeBootOption && st.Applications[n-1].Path == "" {
		kernelDigest = st.Applications[n-1].Digest
	}
	switch {
	case st.Loader == LoaderGrub:
		k := &Kernel{Digest: kernelDigest}
		if grubLinux >= 0 {
			s := strings.TrimSuffix(string(evs[grubLinux].e.Data), "\x00")
			if f := strings.Fields(s); len(f) >= 3 {
				k.Path = f[2]
			}
			if f := nextFile(evs[grubLinux].n, pcr9, evs); f != nil {
				k.FileDigest = dg(f.Digest)
			}
		}
		st.Kernel = k
		if haveCmdline {
			v := lastCmdline
			if f := strings.Fields(v); len(f) > 0 && f[0] == k.Path {
				v = strings.TrimSpace(strings.TrimPrefix(v, f[0]))
			}
			st.CommandLine = &CommandLine{Value: v, Known: true}
		}
		if grubInitrd >= 0 {
			s := strings.TrimSuffix(string(evs[grubInitrd].e.Data), "\x00")
			f := strings.Fields(s)
			if ev := nextFile(evs[grubInitrd].n, pcr9, evs); ev != nil && len(f) >= 3 {
				st.Initrd = &File{Path: f[2], Digest: dg(ev.Digest)}
			}
		}
	case len(st.Applications) > 0 && st.Applications[0].BeforeBootOption:
		st.Loader = LoaderDirect
		var last Application
		for _, a := range st.Applications {
			if a.BeforeBootOption {
				last = a
			}
		}
		st.Kernel = &Kernel{Digest: last.Digest, Path: last.Path}
		for _, k := range pcr9 {
			e := evs[k].e
			id, _, ok := taggedEvent(e.Data)
			if !ok || uint32(e.Type) != evEventTag {
				continue
			}
			switch id {
			case tagLoadOptions:
				st.CommandLine = &CommandLine{Digest: dg(e.Digest)}
			case tagInitrd:
				st.Initrd = &File{Digest: dg(e.Digest)}
			}
		}
	case kernelDigest != "":
		st.Kernel = &Kernel{Digest: kernelDigest}
	}

	// Verified Secure Boot: enabled, a db key used, and the kernel loaded as
	// a verified application after the boot loader.
	if st.SecureBoot.Enabled && st.SecureBoot.Reason == "" {
		switch {
		case st.Applications[0].BeforeBootOption:
			st.SecureBoot.Reason = "an application was started before the boot option (direct kernel boot): not verified by Secure Boot"
		case st.Kernel == nil || st.Kernel.Digest == "":
			st.SecureBoot.Reason = "no kernel among the boot applications in PCR 4: the kernel was not loaded as a verified boot application"
		default:
			st.SecureBoot.Verified = true
		}
	}
	return st, nil
}

// nextFile returns the first PCR 9 event after event number n (log order).
func nextFile(n int, pcr9 []int, evs []numbered) *attest.Event {
	for _, k := range pcr9 {
		if evs[k].n > n && uint32(evs[k].e.Type) == evIPL {
			return &evs[k].e
		}
	}
	return nil
}

// fillVariables adds certificates and hash counts to the variables and the
// authorities that go-attestation found.
func fillVariables(st *State, sb *attest.SecurebootState) {
	for i := range st.Variables {
		v := &st.Variables[i]
		switch v.Name {
		case "PK":
			v.Certificates, v.Hashes = certs(sb.PlatformKeys), len(sb.PlatformKeyHashes)
		case "KEK":
			v.Certificates, v.Hashes = certs(sb.ExchangeKeys), len(sb.ExchangeKeyHashes)
		case "db":
			v.Certificates, v.Hashes = certs(sb.PermittedKeys), len(sb.PermittedHashes)
		case "dbx":
			v.Certificates, v.Hashes = certs(sb.ForbiddenKeys), len(sb.ForbiddenHashes)
		}
	}
	st.Authorities = append(certs(sb.PreSeparatorAuthority), certs(sb.PostSeparatorAuthority)...)
}

// certs names certificates by subject and SHA-256 fingerprint.
func certs(in []x509.Certificate) []Certificate {
	var out []Certificate
	for _, c := range in {
		out = append(out, Certificate{Subject: c.Subject.String(), SHA256: digest.FromBytes(c.Raw).String()})
	}
	return out
}
