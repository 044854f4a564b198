package policy

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/attest-build/attest-build/internal/pathglob"
)

// SourceRule is the policy's `source:` section, like slsa-verifier's
// --source-uri, --source-branch/--source-tag and commit options: the
// repository the build must come from, the refs it may have been built at
// and optionally the exact commit. See docs/policy.md.
type SourceRule struct {
	// Repository is the repository URL, normalised (NormalizeRepo).
	Repository string
	// Refs are allowed refs, each a full ref ("refs/heads/main") or a
	// pattern (internal/pathglob's dialect, as every path pattern:
	// "refs/tags/v*", "refs/heads/release/**"); empty allows any.
	Refs []string
	// Commit is the required git commit (lowercase hex), or "".
	Commit string
}

type sourceYAML struct {
	Repository string   `yaml:"repository"`
	Refs       []string `yaml:"refs"`
	Commit     string   `yaml:"commit"`
}

// SourceRule returns the policy's source rule, nil when it has none.
func (p *Policy) SourceRule() *SourceRule {
	if p.srcRule == nil {
		return nil
	}
	r := *p.srcRule
	r.Refs = append([]string(nil), r.Refs...)
	return &r
}

var commitRE = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)

// NormalizeRepo returns a repository URL as the source rule compares it:
// without a "git+" prefix, a trailing "/" or ".git", and with the scheme and
// host in lower case.
func NormalizeRepo(u string) string {
	u = strings.TrimPrefix(u, "git+")
	u = strings.TrimSuffix(strings.TrimSuffix(u, "/"), ".git")
	if i := strings.Index(u, "://"); i >= 0 {
		rest := u[i+3:]
		host, p, _ := strings.Cut(rest, "/")
		u = strings.ToLower(u[:i]) + "://" + strings.ToLower(host)
		if p != "" {
			u += "/" + p
		}
	}
	return u
}

// sourceRule checks the `source:` section.
func (l *policyLoader) sourceRule(raw *sourceYAML) (*SourceRule, error) {
	if raw == nil {
		return nil, nil
	}
	if raw.Repository == "" {
		return nil, l.errf([]any{"source", "repository"}, "required: the repository URL the build must come from")
	}
	if !strings.Contains(raw.Repository, "://") {
		return nil, l.errf([]any{"source", "repository"}, "%q is not a URL (want e.g. https://github.com/OWNER/REPO)", raw.Repository)
	}
	r := &SourceRule{Repository: NormalizeRepo(raw.Repository), Commit: strings.ToLower(raw.Commit)}
	for i, ref := range raw.Refs {
		if !strings.HasPrefix(ref, "refs/") {
			return nil, l.errf([]any{"source", "refs", i}, "%q is not a full ref (want refs/heads/NAME or refs/tags/NAME, patterns allowed)", ref)
		}
		if _, err := pathglob.Compile(ref); err != nil {
			return nil, l.errf([]any{"source", "refs", i}, "%w", err)
		}
		r.Refs = append(r.Refs, ref)
	}
	if r.Commit != "" && !commitRE.MatchString(r.Commit) {
		return nil, l.errf([]any{"source", "commit"}, "%q is not a full git commit id (40 or 64 hex digits)", raw.Commit)
	}
	return r, nil
}

// RefAllowed reports whether ref is one the rule allows (a ref pattern
// that does not compile allows nothing).
func (r *SourceRule) RefAllowed(ref string) bool {
	if len(r.Refs) == 0 {
		return true
	}
	for _, pat := range r.Refs {
		if g, err := pathglob.Compile(pat); err == nil && g.Match(ref) {
			return true
		}
	}
	return false
}

// String describes the rule for messages.
func (r *SourceRule) String() string {
	s := r.Repository
	if len(r.Refs) > 0 {
		s += " at " + strings.Join(r.Refs, " or ")
	}
	if r.Commit != "" {
		s += fmt.Sprintf(", commit %s", r.Commit)
	}
	return s
}
