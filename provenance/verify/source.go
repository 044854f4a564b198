package verify

import (
	"errors"
	"fmt"
	"strings"

	"github.com/attest-build/attest-build/provenance/policy"
)

// ErrSource reports a build from a source the policy's source: rule does
// not allow.
var ErrSource = errors.New("source not allowed by the policy")

// checkSource checks the SLSA statement's source against the policy's
// source: rule (Verify's doc, check 5a). Without a rule it passes with a
// note.
func (vr *verification) checkSource() error {
	rule := vr.v.policy.SourceRule()
	if rule == nil {
		vr.rep.pass(CheckSource, "no source rule in the policy")
		return nil
	}
	var seen []string
	var matched string
	for _, rd := range vr.prov.GetBuildDefinition().GetResolvedDependencies() {
		uri := rd.GetUri()
		if !strings.HasPrefix(uri, "git+") {
			continue
		}
		repo, ref := uri, ""
		if i := strings.LastIndex(uri, "@"); i > strings.Index(uri, "://") {
			repo, ref = uri[:i], uri[i+1:]
		}
		commit := strings.ToLower(rd.GetDigest()["gitCommit"])
		seen = append(seen, uri+" (gitCommit "+orNone(commit)+")")
		if policy.NormalizeRepo(repo) != rule.Repository || !rule.RefAllowed(ref) || (rule.Commit != "" && commit != rule.Commit) {
			continue
		}
		matched = uri + "@" + commit
		break
	}
	if matched == "" {
		return vr.rep.fail(CheckSource, ErrSource, "resolvedDependencies: "+rule.String(), orNone(strings.Join(seen, ", ")))
	}
	if wf := vr.prov.GetBuildDefinition().GetExternalParameters().GetFields()["workflow"].GetStructValue(); wf != nil {
		repo := wf.GetFields()["repository"].GetStringValue()
		ref := wf.GetFields()["ref"].GetStringValue()
		if policy.NormalizeRepo(repo) != rule.Repository || !rule.RefAllowed(ref) {
			return vr.rep.fail(CheckSource, ErrSource, "externalParameters.workflow: "+rule.String(), fmt.Sprintf("repository %s, ref %s", orNone(repo), orNone(ref)))
		}
	}
	vr.rep.pass(CheckSource, matched)
	return nil
}
