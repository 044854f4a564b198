package provenance_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	intoto "github.com/in-toto/attestation/go/v1"
	slsa1 "github.com/in-toto/in-toto-golang/in_toto/slsa_provenance/v1"
	"github.com/package-url/packageurl-go"

	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/provenance/internal/provtest"
)

// The SLSA statement of a real attestation made in a (simulated) GitHub
// Actions job conforms beyond the in-toto bindings' Validate: every
// ResourceDescriptor has a uri, digest or content; package URLs are
// canonical; builder.version is filled; the workflow reference is in
// externalParameters.workflow, where GitHub's buildType has it; and
// in-toto-golang's SLSA v1 types decode it with unknown fields refused.
func TestSLSAConformance(t *testing.T) {
	env := append(os.Environ(),
		"GITHUB_ACTIONS=true", "GITHUB_SERVER_URL=https://github.com", "GITHUB_REPOSITORY=o/r",
		"GITHUB_REF=refs/tags/v1.2.3", "GITHUB_SHA=0123456789abcdef0123456789abcdef01234567",
		"GITHUB_WORKFLOW_REF=o/r/.github/workflows/release.yml@refs/tags/v1.2.3", "GITHUB_RUN_ID=42")
	out, pubPath := attestOnSwtpm(t, fileKey, env)
	sts := provtest.ReadAttestation(t, out, pubPath)
	var raw json.RawMessage
	for _, st := range sts {
		if st.PredicateType == predicates.SLSAProvenanceType {
			raw = st.Predicate
		}
	}
	if raw == nil {
		t.Fatal("no SLSA statement")
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	var p slsa1.ProvenancePredicate
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("in-toto-golang SLSA v1: %v", err)
	}
	if v := p.RunDetails.Builder.Version["attest-build"]; v == "" {
		t.Errorf("builder.version %v: no attest-build version", p.RunDetails.Builder.Version)
	}
	wf, _ := p.BuildDefinition.ExternalParameters.(map[string]any)["workflow"].(map[string]any)
	want := map[string]any{"ref": "refs/tags/v1.2.3", "repository": "https://github.com/o/r", "path": ".github/workflows/release.yml"}
	if len(wf) != len(want) {
		t.Errorf("externalParameters.workflow %v, want %v", wf, want)
	}
	for k, v := range want {
		if wf[k] != v {
			t.Errorf("externalParameters.workflow.%s = %v, want %v", k, wf[k], v)
		}
	}
	if len(p.BuildDefinition.ResolvedDependencies) != 1 || p.BuildDefinition.ResolvedDependencies[0].URI != "git+https://github.com/o/r@refs/tags/v1.2.3" {
		t.Errorf("resolvedDependencies %+v", p.BuildDefinition.ResolvedDependencies)
	}
	purls := 0
	for field, rds := range map[string][]slsa1.ResourceDescriptor{
		"buildDefinition.resolvedDependencies":   p.BuildDefinition.ResolvedDependencies,
		"runDetails.builder.builderDependencies": p.RunDetails.Builder.BuilderDependencies,
		"runDetails.byproducts":                  p.RunDetails.Byproducts,
	} {
		for i, rd := range rds {
			if rd.URI == "" && len(rd.Digest) == 0 && len(rd.Content) == 0 {
				t.Errorf("%s[%d] %q: no uri, digest or content", field, i, rd.Name)
			}
			if !strings.HasPrefix(rd.URI, "pkg:") {
				continue
			}
			purls++
			u, err := packageurl.FromString(rd.URI)
			if err != nil {
				t.Errorf("%s[%d] %q: package URL %s: %v", field, i, rd.Name, rd.URI, err)
			} else if c := u.ToString(); c != rd.URI {
				t.Errorf("%s[%d] %q: package URL %s, canonical %s", field, i, rd.Name, rd.URI, c)
			}
		}
	}
	if purls != 2 {
		t.Errorf("%d package URLs, want 2 (attest-build and the kernel): %+v", purls, p.RunDetails.Builder.BuilderDependencies)
	}
}

// SLSAPredicate refuses a ResourceDescriptor that names a resource without
// saying where or what it is.
func TestSLSAPredicateRefusesUnlocatableDescriptor(t *testing.T) {
	info := provenance.ProvenanceInfo{
		BuilderID: "https://example.com/b", Argv: []string{"make"}, Dir: "/w", TPMMode: "device",
		BuilderDependencies: []*intoto.ResourceDescriptor{{Name: "linux-kernel"}},
	}
	_, err := provenance.SLSAPredicate(info)
	if err == nil || !strings.Contains(err.Error(), "runDetails.builder.builderDependencies[0]") {
		t.Fatalf("err %v, want one naming builderDependencies[0]", err)
	}
	info.BuilderDependencies[0].Uri = "pkg:generic/linux@6.1.0"
	if _, err := provenance.SLSAPredicate(info); err != nil {
		t.Fatal(err)
	}
}
