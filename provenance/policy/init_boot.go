package policy

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/attest-build/attest-build/bootlog"
)

// bootSection is policy init's boot: section from the reference's verified
// boot state (nil: the reference carries no boot log, reason says why).
func bootSection(st *bootlog.State, reason string) *yaml.Node {
	if st == nil {
		n := mapping()
		n.Style = yaml.FlowStyle
		n.HeadComment = "Measured boot rules (docs/policy.md#boot). The reference attestation carries no firmware\nevent log (" + reason + "),\nso none are set. With a log, for example:\n  secureBoot: required\n  kernels: [sha256:...]\n  commandLine: {require: [ima_policy=tcb], forbid: [ima_appraise=off]}"
		return n
	}
	sb := "optional"
	sbComment := "The reference did NOT boot with verified Secure Boot (" + st.SecureBoot.Reason + "):\nrequired would refuse it. Set required for runners that boot through shim and grub."
	if st.SecureBoot.Verified {
		sb, sbComment = bootlog.SecureBootRequired, "Secure Boot on, and the kernel loaded as a verified boot application (as in the reference)."
	}
	kernels, loaders := seq(), seq()
	kernel := ""
	if st.Kernel != nil && st.Kernel.Digest != "" {
		kernel = st.Kernel.Digest
		n := scalar(kernel)
		n.LineComment = strings.TrimSpace(st.Kernel.Path)
		kernels.Content = append(kernels.Content, n)
	}
	var seen []string
	for _, a := range st.Applications {
		if a.Digest == kernel || slices.Contains(seen, a.Digest) {
			continue
		}
		seen = append(seen, a.Digest)
		n := scalar(a.Digest)
		n.LineComment = a.Path
		loaders.Content = append(loaders.Content, n)
	}
	require, forbid := flowSeq(), flowSeq()
	cmdComment := "Kernel parameters: name, name= (any value) or name=value. The reference's IMA parameters are required."
	switch c := st.CommandLine; {
	case c != nil && c.Known:
		for _, p := range strings.Fields(c.Value) {
			if name, _, _ := strings.Cut(p, "="); strings.HasPrefix(name, "ima") && name != "ima_appraise" {
				require.Content = append(require.Content, scalar(p))
			}
		}
		if hit := slices.ContainsFunc(strings.Fields(c.Value), func(p string) bool { return p == "ima_appraise=off" }); hit {
			cmdComment += "\nThe reference's command line has ima_appraise=off; add it to forbid once runners stop using it."
		} else {
			forbid.Content = append(forbid.Content, scalar("ima_appraise=off"))
		}
	default:
		cmdComment = "The reference's kernel command line is not in its log (" + st.Loader + " boot: only grub measures it),\nso command-line rules would refuse it; boot through grub to use them."
	}
	section := mapping(
		"secureBoot", scalar(sb),
		"kernels", kernels,
		"bootLoaders", loaders,
		"commandLine", mapping("require", require, "forbid", forbid),
	)
	comment(section, "secureBoot", sbComment)
	if kernel != "" {
		comment(section, "kernels", "Allowed kernels: the PCR 4 digest (Authenticode SHA-256 of the signed vmlinuz) of the reference's.")
	} else {
		comment(section, "kernels", "The reference's kernel is not measured in PCR 4 (no verified boot loader loaded it): a kernels\nlist would refuse it.")
	}
	comment(section, "bootLoaders", "Allowed boot applications other than the kernel (shim, grub), by PCR 4 digest.")
	comment(section, "commandLine", cmdComment)
	for _, name := range []string{"db", "dbx"} {
		for _, v := range st.Variables {
			if v.Name != name {
				continue
			}
			var who []string
			for _, c := range v.Certificates {
				who = append(who, bootlog.CommonName(c.Subject))
			}
			if v.Hashes > 0 {
				who = append(who, fmt.Sprintf("%d hashes", v.Hashes))
			}
			n := scalar(v.Digest)
			section.Content = append(section.Content, scalar(name), seq(n))
			text := "Allowed " + name + " contents, by the digest measured into PCR 7"
			if len(who) > 0 {
				text += ": " + strings.Join(who, ", ")
			}
			section.Content[len(section.Content)-2].HeadComment = text + "."
		}
	}
	section.HeadComment = "Measured boot rules over the firmware event log replayed to PCRs 0-9 (docs/policy.md#boot),\nfrom the reference's boot: " + strings.Join(st.Summary()[:2], "; ") + "."
	return section
}
