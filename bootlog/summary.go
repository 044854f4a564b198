package bootlog

import (
	"fmt"
	"strings"
)

// Summary describes the state in words, one line per fact, for reports.
func (st *State) Summary() []string {
	var out []string
	fw := "UEFI"
	if st.Firmware == FirmwareBIOS {
		fw = "legacy BIOS"
	}
	out = append(out, fmt.Sprintf("firmware: %s, %d events in PCRs 0-9 replayed (%s)", fw, st.Events, st.Bank))
	switch sb := st.SecureBoot; {
	case sb.Verified:
		by := ""
		if len(st.Authorities) > 0 {
			var names []string
			for _, a := range st.Authorities {
				names = append(names, CommonName(a.Subject))
			}
			by = ", verified by " + strings.Join(names, ", ")
		}
		out = append(out, "Secure Boot: on"+by)
	case sb.Enabled:
		out = append(out, "Secure Boot: enabled but NOT verified: "+sb.Reason)
	default:
		out = append(out, "Secure Boot: off ("+sb.Reason+")")
	}
	for _, v := range st.Variables {
		if v.Name == "SecureBoot" {
			continue
		}
		var parts []string
		for _, c := range v.Certificates {
			parts = append(parts, CommonName(c.Subject))
		}
		if v.Hashes > 0 {
			parts = append(parts, fmt.Sprintf("%d hashes", v.Hashes))
		}
		what := "empty"
		if len(parts) > 0 {
			what = strings.Join(parts, ", ")
		}
		out = append(out, fmt.Sprintf("%s: %s (%s)", v.Name, what, v.Digest))
	}
	loader := map[string]string{LoaderGrub: "grub", LoaderDirect: "the firmware started the kernel directly", LoaderUnknown: "unknown"}[st.Loader]
	out = append(out, "boot loader: "+loader)
	for i, a := range st.Applications {
		path := a.Path
		if path == "" {
			path = "(loaded from memory)"
		}
		out = append(out, fmt.Sprintf("boot application %d: %s %s", i, a.Digest, path))
	}
	if k := st.Kernel; k != nil {
		s := "kernel:"
		if k.Path != "" {
			s += " " + k.Path
		}
		if k.Digest != "" {
			s += " " + k.Digest
		} else {
			s += " (not measured in PCR 4)"
		}
		if k.FileDigest != "" {
			s += ", file " + k.FileDigest
		}
		out = append(out, s)
	} else {
		out = append(out, "kernel: none measured")
	}
	switch c := st.CommandLine; {
	case c != nil && c.Known:
		out = append(out, fmt.Sprintf("kernel command line: %q", c.Value))
	case c != nil:
		out = append(out, "kernel command line: only its digest was measured, "+c.Digest)
	default:
		out = append(out, "kernel command line: not measured")
	}
	if st.Initrd != nil {
		out = append(out, "initrd: "+strings.TrimSpace(st.Initrd.Path+" "+st.Initrd.Digest))
	}
	return out
}

// CommonName returns the CN of an RFC 2253 subject, or the subject.
func CommonName(subject string) string {
	for _, part := range strings.Split(subject, ",") {
		if cn, ok := strings.CutPrefix(part, "CN="); ok {
			return cn
		}
	}
	return subject
}
