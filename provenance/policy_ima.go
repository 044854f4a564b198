package provenance

import "fmt"

// maxFindings caps the IMA findings kept for a report; the total is counted.
const maxFindings = 20

// measurement is one IMA entry as the rules see it.
type measurement struct {
	index     int
	path      string
	digest    string // "alg:hex", "" when the template has none
	violation bool
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
// fails unless violations are allowed; a path matching a deny pattern fails;
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
	ev.finding(m, "allowlist", "path is not in the allowlist")
}
