package policy

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/attest-build/attest-build/evidence"
	"github.com/attest-build/attest-build/runtimepolicy"
)

// Measurement returns the entry as the rules see it, with Undecoded set
// when its template does not decode into a path and file digest or those
// fields are empty.
//
// The Measurement holds the entry's file digest as a view of the entry:
// it is valid only while the entry is (the Add it is given to).
func (c *TemplateCache) Measurement(e *evidence.Entry) Measurement {
	m := Measurement{Index: e.Index, Template: e.TemplateName, Path: e.Path, Violation: e.Violation()}
	if len(e.FileDigest) > 0 {
		m.digestAlg, m.digest = lowerAlg(e.FileDigestAlg), e.FileDigest
	}
	switch m.Undecoded = c.decoding(e.TemplateName); {
	case m.Undecoded != "":
	case m.Path == "":
		m.Undecoded = "empty path"
	case m.digest == nil:
		m.Undecoded = "empty file digest"
	}
	return m
}

// lowerAlg returns alg in lower case, without allocating when it is.
func lowerAlg(alg string) string {
	for i := 0; i < len(alg); i++ {
		if c := alg[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(alg)
		}
	}
	return alg
}

// DigestString returns the file digest as "alg:hex" ("" when none).
func (m *Measurement) DigestString() string {
	if m.Digest != "" || m.digest == nil {
		return m.Digest
	}
	return m.digestAlg + ":" + hex.EncodeToString(m.digest)
}

// digestValue returns the file digest's algorithm and bytes.
func (m *Measurement) digestValue() (string, []byte) {
	if m.digest != nil || m.Digest == "" {
		return m.digestAlg, m.digest
	}
	d, err := runtimepolicy.ParseDigest(m.Digest)
	if err != nil {
		return "", nil
	}
	return d.Alg, d.Bytes
}

// IMAFinding is one IMA entry that broke a policy rule.
type IMAFinding struct {
	Index  int    `json:"index"`
	Path   string `json:"path"`
	Digest string `json:"digest,omitempty"` // alg:hex
	Rule   string `json:"rule"`             // "violation", "template", "deny", "allowlist"
	Detail string `json:"detail"`
}

func (f IMAFinding) String() string {
	s := fmt.Sprintf("entry %d %s", f.Index, f.Path)
	if f.Digest != "" {
		s += " (" + f.Digest + ")"
	}
	return s + ": " + f.Detail
}

// IMATally counts what the rules made of the entries in scope.
type IMATally struct {
	// InScope entries were subject to the rules; Excluded of them matched an
	// exclude; Violations are violation entries in scope.
	InScope    int
	Excluded   int
	Violations int
	// Unchecked entries in scope are of templates the verifier cannot
	// decode into a path and digest, accepted unchecked by ima.templates.
	Unchecked int
	// Findings are the entries that broke a rule (at most 20).
	Findings []IMAFinding
	// FindingsTotal counts every entry that broke a rule.
	FindingsTotal int
}

// NewEvaluation starts applying the rules; collect, when not nil, receives
// every entry added (policy init's reading of its reference).
// It waits for the policy's Keylime runtime policies when they load in the
// background (LoadPolicyConcurrent); if that failed, every entry added is
// a finding naming the error.
func (r *IMARules) NewEvaluation(collect func(Measurement)) *IMAEvaluation {
	ev := &IMAEvaluation{p: r.p, collect: collect, keylimeExcludes: r.p.keylimeExcludes}
	if k := r.p.pending; k != nil {
		ev.loadErr = k.wait()
		ev.keylimeExcludes = k.excludes
	}
	return ev
}

// Ready waits for the policy's Keylime runtime policies when they load in
// the background (LoadPolicyConcurrent) and returns their error.
func (r *IMARules) Ready() error {
	if r.p.pending == nil {
		return nil
	}
	return r.p.pending.wait()
}

// Tally returns the counts and findings so far.
func (ev *IMAEvaluation) Tally() IMATally { return ev.tally }

// AddTally counts the tally of entries evaluated before (an IMA baseline's,
// evaluated once for many attestations) as if they had been added here
// first: its findings come before this evaluation's.
func (ev *IMAEvaluation) AddTally(t IMATally) {
	ev.tally.InScope += t.InScope
	ev.tally.Excluded += t.Excluded
	ev.tally.Violations += t.Violations
	ev.tally.Unchecked += t.Unchecked
	ev.tally.FindingsTotal += t.FindingsTotal
	ev.tally.Findings = append(slices.Clone(t.Findings), ev.tally.Findings...)
	if len(ev.tally.Findings) > maxFindings {
		ev.tally.Findings = ev.tally.Findings[:maxFindings]
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
