package policy

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/attest-build/attest-build/evidence"
)

// Measurement returns the entry as the rules see it, with Undecoded set
// when its template does not decode into a path and file digest or those
// fields are empty.
func (c *TemplateCache) Measurement(e *evidence.Entry) Measurement {
	m := Measurement{Index: e.Index, Template: e.TemplateName, Path: e.Path, Violation: e.Violation()}
	if len(e.FileDigest) > 0 {
		m.Digest = strings.ToLower(e.FileDigestAlg) + ":" + hex.EncodeToString(e.FileDigest)
	}
	switch m.Undecoded = c.decoding(e.TemplateName); {
	case m.Undecoded != "":
	case m.Path == "":
		m.Undecoded = "empty path"
	case m.Digest == "":
		m.Undecoded = "empty file digest"
	}
	return m
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
func (r *IMARules) NewEvaluation(collect func(Measurement)) *IMAEvaluation {
	return &IMAEvaluation{p: r.p, collect: collect}
}

// Tally returns the counts and findings so far.
func (ev *IMAEvaluation) Tally() IMATally { return ev.tally }

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
