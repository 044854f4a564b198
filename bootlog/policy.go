package bootlog

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// SecureBootRequired is Policy.SecureBoot's value that requires a verified
// Secure Boot chain (State.SecureBoot.Verified).
const SecureBootRequired = "required"

// Policy is a boot policy: rules over a verified State. Its YAML form is the
// policy file's boot: section (docs/policy.md). The zero Policy accepts every
// state; each rule that is set must hold.
type Policy struct {
	// SecureBoot "required": Secure Boot enabled and the kernel loaded as a
	// verified boot application (State.SecureBoot.Verified). "" or
	// "optional": not checked.
	SecureBoot string `yaml:"secureBoot"`
	// Kernels are the allowed kernel digests ("sha256:HEX": the kernel's PCR 4
	// digest, its Authenticode hash): the state must name a kernel in PCR 4
	// and it must be one of them.
	Kernels []string `yaml:"kernels"`
	// BootLoaders are the allowed digests of every other boot application in
	// PCR 4 (shim, grub): each must be one of them.
	BootLoaders []string `yaml:"bootLoaders"`
	// CommandLine rules need the command line in the log (grub measures it;
	// a direct boot leaves only its digest).
	CommandLine CommandLinePolicy `yaml:"commandLine"`
	// DB and DBX are the allowed measured digests of the db and dbx variables.
	DB  []string `yaml:"db"`
	DBX []string `yaml:"dbx"`
	// Authorities are the allowed certificates ("sha256:HEX" of the DER) that
	// verified boot applications; every authority used must be one of them.
	Authorities []string `yaml:"authorities"`
}

// CommandLinePolicy holds the kernel command line rules. A parameter is
// written "name" (present, with or without a value), "name=" (present with
// a value) or "name=value". Require "name=value": the last occurrence of
// name (the one the kernel keeps) has that value. Forbid matches any
// occurrence.
type CommandLinePolicy struct {
	Require []string `yaml:"require"`
	Forbid  []string `yaml:"forbid"`
}

// digestRE is compiled when a policy is first checked, not by every
// command's start.
var digestRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(sha1:[0-9a-f]{40}|sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128})$`)
})

// ErrPolicy reports a boot policy that cannot be used.
var ErrPolicy = errors.New("invalid boot policy")

// PolicyFieldError names the field of a boot policy that is invalid.
type PolicyFieldError struct {
	// Path is the field's path: names and list indexes, e.g. {"kernels", 1}.
	Path []any
	Err  error
}

// Field is the path written out, e.g. "kernels[1]".
func (e *PolicyFieldError) Field() string {
	var b strings.Builder
	for _, p := range e.Path {
		if i, ok := p.(int); ok {
			fmt.Fprintf(&b, "[%d]", i)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		fmt.Fprint(&b, p)
	}
	return b.String()
}

func (e *PolicyFieldError) Error() string {
	return e.Field() + ": " + ErrPolicy.Error() + ": " + e.Err.Error()
}
func (e *PolicyFieldError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrPolicy) true.
func (e *PolicyFieldError) Is(target error) bool { return target == ErrPolicy }

// Validate checks the policy's values: a known secureBoot, digests as
// "ALG:HEX" in lowercase, parameters without spaces.
func (p *Policy) Validate() error {
	bad := func(path []any, format string, a ...any) error {
		return &PolicyFieldError{Path: path, Err: fmt.Errorf(format, a...)}
	}
	switch p.SecureBoot {
	case "", "optional", SecureBootRequired:
	default:
		return bad([]any{"secureBoot"}, "%q is not required or optional", p.SecureBoot)
	}
	for _, l := range []struct {
		path []any
		list []string
	}{{[]any{"kernels"}, p.Kernels}, {[]any{"bootLoaders"}, p.BootLoaders}, {[]any{"db"}, p.DB}, {[]any{"dbx"}, p.DBX}, {[]any{"authorities"}, p.Authorities}} {
		for i, d := range l.list {
			if !digestRE().MatchString(d) {
				return bad(append(l.path, i), "%q is not ALG:HEX (sha1, sha256, sha384 or sha512, lowercase hex)", d)
			}
		}
	}
	for _, l := range []struct {
		path []any
		list []string
	}{{[]any{"commandLine", "require"}, p.CommandLine.Require}, {[]any{"commandLine", "forbid"}, p.CommandLine.Forbid}} {
		for i, s := range l.list {
			if s == "" || strings.HasPrefix(s, "=") || strings.ContainsAny(s, " \t\n") {
				return bad(append(l.path, i), "%q is not a kernel parameter (name, name= or name=value)", s)
			}
		}
	}
	return nil
}

// Empty reports whether the policy has no rule.
func (p *Policy) Empty() bool {
	return (p.SecureBoot == "" || p.SecureBoot == "optional") && len(p.Kernels) == 0 && len(p.BootLoaders) == 0 &&
		len(p.CommandLine.Require) == 0 && len(p.CommandLine.Forbid) == 0 && len(p.DB) == 0 && len(p.DBX) == 0 && len(p.Authorities) == 0
}

// Finding is one boot rule a state breaks.
type Finding struct {
	Rule     string `json:"rule"` // the policy field, e.g. "secureBoot", "commandLine.forbid"
	Expected string `json:"expected"`
	Found    string `json:"found"`
}

func (f Finding) String() string {
	return fmt.Sprintf("boot.%s: want %s, found %s", f.Rule, f.Expected, f.Found)
}

// Check returns the rules of p that st breaks, in the order of the Policy's
// fields; none means st satisfies p. p must be valid (Validate).
func (p *Policy) Check(st *State) []Finding {
	var out []Finding
	add := func(rule, expected, found string) {
		out = append(out, Finding{Rule: rule, Expected: expected, Found: found})
	}
	if p.SecureBoot == SecureBootRequired && !st.SecureBoot.Verified {
		found := "off"
		if st.SecureBoot.Enabled {
			found = "enabled but not verified"
		}
		add("secureBoot", "Secure Boot on and the kernel verified", found+" ("+st.SecureBoot.Reason+")")
	}
	kernel := ""
	if st.Kernel != nil {
		kernel = st.Kernel.Digest
	}
	if len(p.Kernels) > 0 {
		switch {
		case kernel == "":
			add("kernels", "a kernel in PCR 4, one of "+list(p.Kernels), "no kernel among the boot applications in PCR 4")
		case !slices.Contains(p.Kernels, kernel):
			add("kernels", "one of "+list(p.Kernels), kernel+kernelPath(st.Kernel))
		}
	}
	if len(p.BootLoaders) > 0 {
		for i, a := range st.Applications {
			if a.Digest == kernel || slices.Contains(p.BootLoaders, a.Digest) {
				continue
			}
			path := ""
			if a.Path != "" {
				path = " (" + a.Path + ")"
			}
			add("bootLoaders", "one of "+list(p.BootLoaders), fmt.Sprintf("boot application %d %s%s", i, a.Digest, path))
		}
	}
	if len(p.CommandLine.Require)+len(p.CommandLine.Forbid) > 0 {
		if st.CommandLine == nil || !st.CommandLine.Known {
			add("commandLine", "the kernel command line in the log", "none: "+cmdlineAbsence(st))
		} else {
			params := strings.Fields(st.CommandLine.Value)
			for _, r := range p.CommandLine.Require {
				if !required(params, r) {
					add("commandLine.require", r, quoteCmdline(st.CommandLine.Value))
				}
			}
			for _, r := range p.CommandLine.Forbid {
				if hit := forbidden(params, r); hit != "" {
					add("commandLine.forbid", "no "+r, hit)
				}
			}
		}
	}
	for _, v := range []struct {
		name    string
		allowed []string
	}{{"db", p.DB}, {"dbx", p.DBX}} {
		if len(v.allowed) == 0 {
			continue
		}
		got := st.variable(v.name)
		switch {
		case got == nil:
			add(v.name, "one of "+list(v.allowed), "no "+v.name+" variable measured")
		case !slices.Contains(v.allowed, got.Digest):
			add(v.name, "one of "+list(v.allowed), got.Digest)
		}
	}
	if len(p.Authorities) > 0 {
		for _, a := range st.Authorities {
			if !slices.Contains(p.Authorities, a.SHA256) {
				add("authorities", "one of "+list(p.Authorities), a.SHA256+" ("+a.Subject+")")
			}
		}
	}
	return out
}

func (st *State) variable(name string) *Variable {
	for i := range st.Variables {
		if st.Variables[i].Name == name {
			return &st.Variables[i]
		}
	}
	return nil
}

func list(s []string) string {
	if len(s) == 1 {
		return s[0]
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func kernelPath(k *Kernel) string {
	if k == nil || k.Path == "" {
		return ""
	}
	return " (" + k.Path + ")"
}

func quoteCmdline(v string) string { return fmt.Sprintf("command line %q", v) }

func cmdlineAbsence(st *State) string {
	switch {
	case st.CommandLine != nil && st.CommandLine.Digest != "":
		return "the firmware measured only its digest (direct kernel boot)"
	case st.Loader == LoaderGrub:
		return "grub measured no kernel_cmdline"
	default:
		return "no boot loader measured it (" + st.Loader + " loader)"
	}
}

// required reports whether params satisfy a required parameter r.
func required(params []string, r string) bool {
	name, value, withValue := strings.Cut(r, "=")
	last, found := "", false
	lastHasValue := false
	for _, p := range params {
		n, v, hv := strings.Cut(p, "=")
		if n == name {
			last, lastHasValue, found = v, hv, true
		}
	}
	switch {
	case !found:
		return false
	case !withValue: // "name"
		return true
	case value == "": // "name="
		return lastHasValue
	default:
		return lastHasValue && last == value
	}
}

// forbidden returns the first parameter in params that r forbids, or "".
func forbidden(params []string, r string) string {
	name, value, withValue := strings.Cut(r, "=")
	for _, p := range params {
		n, v, hv := strings.Cut(p, "=")
		if n != name {
			continue
		}
		switch {
		case !withValue:
			return p
		case value == "" && hv:
			return p
		case hv && v == value:
			return p
		}
	}
	return ""
}
