package policy

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/attest-build/attest-build/evidence"
)

// maxFindings caps the IMA findings kept for a report; the total is counted.
const maxFindings = 20

// Measurement is one IMA entry as the rules see it.
type Measurement struct {
	Index    int
	Template string
	Path     string
	// Digest is the file digest as "alg:hex" when a caller builds a
	// Measurement by hand; TemplateCache.Measurement leaves it empty and
	// keeps the entry's digest as bytes (DigestString writes it out).
	Digest    string
	Violation bool
	// Undecoded says why the entry has no path and file digest the rules
	// can use ("" when it has both).
	Undecoded string

	digestAlg string
	digest    []byte
}

// templateDecoding says whether entries of a template decode into a path
// and a file digest: the template's fields, by evidence.TemplateFields,
// hold a name field (n, n-ng) and a digest field (d, d-ng, d-ngv2). The
// kernel does not hash the template name, so a signer can rename any
// entry's template; an entry whose template yields no path would match no
// deny pattern, so such entries are findings unless the policy names the
// template. It returns "" for a template that decodes, or the reason.
func templateDecoding(name string) string {
	ids, ok := evidence.TemplateFields(name)
	if !ok {
		return fmt.Sprintf("template %q is not one this verifier decodes", name)
	}
	hasPath := slices.ContainsFunc(ids, func(id string) bool { return id == "n" || id == "n-ng" })
	hasDigest := slices.ContainsFunc(ids, func(id string) bool { return id == "d" || id == "d-ng" || id == "d-ngv2" })
	if !hasPath || !hasDigest {
		return fmt.Sprintf("template %q has no path and file digest fields", name)
	}
	return ""
}

// TemplateCache remembers templateDecoding of the last template seen (a
// log is mostly of one template). Its zero value is ready to use.
type TemplateCache struct {
	name, reason string
	set          bool
}

func (c *TemplateCache) decoding(name string) string {
	if !c.set || c.name != name {
		c.name, c.reason, c.set = name, templateDecoding(name), true
	}
	return c.reason
}

// IMAEvaluation applies a policy's IMA rules to the entries in scope, one at
// a time, in bounded memory. Build it with IMARules.NewEvaluation.
type IMAEvaluation struct {
	p       *imaPolicy
	tally   IMATally
	collect func(Measurement) // policy init's collector (verify.InitPolicy), or nil
	// keylimeExcludes are the imported runtime policies' excludes, and
	// loadErr the error of importing them in the background: every entry
	// is then a finding.
	keylimeExcludes []*regexp.Regexp
	loadErr         error
}

func (ev *IMAEvaluation) finding(m Measurement, rule, format string, a ...any) {
	ev.tally.FindingsTotal++
	if len(ev.tally.Findings) < maxFindings {
		ev.tally.Findings = append(ev.tally.Findings, IMAFinding{Index: m.Index, Path: m.Path, Digest: m.DigestString(), Rule: rule, Detail: fmt.Sprintf(format, a...)})
	}
}

// Add applies the rules to one entry in scope, in this order: a violation
// fails unless violations are allowed; an entry without a path and file
// digest (a template the verifier cannot decode, or empty fields) fails
// unless the policy names its template in ima.templates, which accepts it
// unchecked; a path matching a deny pattern fails;
// a path matching an exclude is skipped; with an allowlist, the path must be
// listed (exactly, or by a pattern) with the entry's digest.
func (ev *IMAEvaluation) Add(m Measurement) {
	p := ev.p
	ev.tally.InScope++
	if ev.collect != nil {
		ev.collect(m)
	}
	if ev.loadErr != nil {
		ev.finding(m, "allowlist", "the policy's allowlist did not load: %v", ev.loadErr)
		return
	}
	if m.Violation {
		ev.tally.Violations++
		if !p.allowViolations {
			ev.finding(m, "violation", "IMA violation (a file measured while open for write, or opened for write while measured); the policy does not allow violations")
		}
		return
	}
	if m.Undecoded != "" {
		if p.anyTemplate || slices.Contains(p.templates, m.Template) {
			ev.tally.Unchecked++
			return
		}
		ev.finding(m, "template", "%s: the rules cannot check it (name the template in ima.templates to accept such entries unchecked)", m.Undecoded)
		return
	}
	for _, d := range p.deny {
		if d.glob.Match(m.Path) {
			ev.finding(m, "deny", "path matches deny pattern %q", d.glob)
			return
		}
	}
	for _, g := range p.excludes {
		if g.Match(m.Path) {
			ev.tally.Excluded++
			return
		}
	}
	for _, re := range ev.keylimeExcludes {
		if re.MatchString(m.Path) {
			ev.tally.Excluded++
			return
		}
	}
	if !p.hasAllowlist() {
		return
	}
	alg, digest := m.digestValue()
	found, ok, n := p.allow.Lookup(m.Path, alg, digest)
	if p.keylimeAllow.Len() > 0 && !ok {
		// The path as logged: the kernel wrote its spaces as '_'
		// (ima_write_template_field_data), as Keylime's policies do, and
		// Keylime looks it up as it is.
		kfound, kok, kn := p.keylimeAllow.Lookup(m.Path, alg, digest)
		found, ok, n = found || kfound, kok, n+kn
	}
	if found {
		if !ok {
			ev.finding(m, "allowlist", "digest %s is not among the %d accepted for this path", orNone(m.DigestString()), n)
		}
		return
	}
	matched := ""
	for _, r := range p.patterns {
		if r.glob.Match(m.Path) {
			if r.digests[m.DigestString()] {
				return
			}
			matched = r.glob.String()
		}
	}
	if matched != "" {
		ev.finding(m, "allowlist", "digest %s is not accepted by pattern %q", orNone(m.DigestString()), matched)
		return
	}
	if p.allow.Len() == 0 && p.keylimeAllow.Len() == 0 && len(p.patterns) == 0 {
		ev.finding(m, "allowlist", "the allowlist is empty (ima.allow: [] or a Keylime policy without digests): it allows nothing")
		return
	}
	ev.finding(m, "allowlist", "path is not in the allowlist")
}
