package provenance

import (
	"fmt"
	"slices"

	"github.com/attest-build/attest-build/evidence"
)

// maxFindings caps the IMA findings kept for a report; the total is counted.
const maxFindings = 20

// measurement is one IMA entry as the rules see it.
type measurement struct {
	index     int
	template  string
	path      string
	digest    string // "alg:hex", "" when the template has none
	violation bool
	// undecoded says why the entry has no path and file digest the rules
	// can use ("" when it has both).
	undecoded string
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

// templateCache remembers templateDecoding of the last template seen (a
// log is mostly of one template).
type templateCache struct {
	name, reason string
	set          bool
}

func (c *templateCache) decoding(name string) string {
	if !c.set || c.name != name {
		c.name, c.reason, c.set = name, templateDecoding(name), true
	}
	return c.reason
}

// imaEvaluation applies a policy's IMA rules to the entries in scope, one at
// a time, in bounded memory.
type imaEvaluation struct {
	p       *imaPolicy
	facts   IMAFacts
	collect func(measurement) // InitPolicy's collector, or nil
}

func (ev *imaEvaluation) finding(m measurement, rule, format string, a ...any) {
	ev.facts.FindingsTotal++
	if len(ev.facts.Findings) < maxFindings {
		ev.facts.Findings = append(ev.facts.Findings, IMAFinding{Index: m.index, Path: m.path, Digest: m.digest, Rule: rule, Detail: fmt.Sprintf(format, a...)})
	}
}

// add applies the rules to one entry in scope, in this order: a violation
// fails unless violations are allowed; an entry without a path and file
// digest (a template the verifier cannot decode, or empty fields) fails
// unless the policy names its template in ima.templates, which accepts it
// unchecked; a path matching a deny pattern fails;
// a path matching an exclude is skipped; with an allowlist, the path must be
// listed (exactly, or by a pattern) with the entry's digest.
func (ev *imaEvaluation) add(m measurement) {
	p := ev.p
	ev.facts.InScope++
	if ev.collect != nil {
		ev.collect(m)
	}
	if m.violation {
		ev.facts.Violations++
		if !p.allowViolations {
			ev.finding(m, "violation", "IMA violation (a file measured while open for write, or opened for write while measured); the policy does not allow violations")
		}
		return
	}
	if m.undecoded != "" {
		if p.anyTemplate || slices.Contains(p.templates, m.template) {
			ev.facts.Unchecked++
			return
		}
		ev.finding(m, "template", "%s: the rules cannot check it (name the template in ima.templates to accept such entries unchecked)", m.undecoded)
		return
	}
	for _, d := range p.deny {
		if d.re.MatchString(m.path) {
			ev.finding(m, "deny", "path matches deny pattern %q", d.pattern)
			return
		}
	}
	for _, re := range p.excludes {
		if re.MatchString(m.path) {
			ev.facts.Excluded++
			return
		}
	}
	if !p.hasAllowlist() {
		return
	}
	if set, ok := p.exact[m.path]; ok {
		if !set[m.digest] {
			ev.finding(m, "allowlist", "digest %s is not among the %d accepted for this path", orNone(m.digest), len(set))
		}
		return
	}
	matched := ""
	for _, r := range p.patterns {
		if r.re.MatchString(m.path) {
			if r.digests[m.digest] {
				return
			}
			matched = r.pattern
		}
	}
	if matched != "" {
		ev.finding(m, "allowlist", "digest %s is not accepted by pattern %q", orNone(m.digest), matched)
		return
	}
	if len(p.exact) == 0 && len(p.patterns) == 0 {
		ev.finding(m, "allowlist", "the allowlist is empty (ima.allow: [] or a Keylime policy without digests): it allows nothing")
		return
	}
	ev.finding(m, "allowlist", "path is not in the allowlist")
}
