package provenance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os/exec"
	"strings"
	"time"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/attest-build/attest-build/predicates"
)

// BuildType is the SLSA buildType of a command run by attest-build. Its
// externalParameters are {"argv": [...], "workingDirectory": "..."} and, in
// GitHub Actions, "workflow": {"ref", "repository", "path"} where GitHub's
// own buildType (https://actions.github.io/buildtypes/workflow/v1) puts
// the workflow reference (GitHubWorkflow); its
// internalParameters are {"tpm": {"mode", "pcrs"}, "imaLog": path} and, in
// CI, "github" or "gitlab" (CIContext). See
// docs/attestation.md.
const BuildType = predicates.BuildType

// builderIDBase is the prefix of the default builder ids, one per TPM mode:
// a run on a simulated or software TPM can never pass for a hardware one.
const builderIDBase = predicates.BuilderIDBase

// BuilderID returns the SLSA builder.id of a run in the given TPM mode.
// Without custom it is builderIDBase + "tpm-device/v0.1" (or "swtpm", "sim").
// A custom id (--builder-id) gets the mode as its URI fragment ("#device",
// "#swtpm", "#sim") so that the modes still differ; a custom id that already
// has a fragment is refused.
func BuilderID(mode, custom string) (string, error) {
	switch mode {
	case predicates.ModeDevice, predicates.ModeSwtpm, predicates.ModeSim:
	default:
		return "", fmt.Errorf("builder id: unknown TPM mode %q", mode)
	}
	if custom == "" {
		return builderIDBase + "tpm-" + mode + "/v0.1", nil
	}
	u, err := url.Parse(custom)
	if err != nil || !u.IsAbs() {
		return "", fmt.Errorf("builder id %q: not an absolute URI", custom)
	}
	if u.Fragment != "" || strings.Contains(custom, "#") {
		return "", fmt.Errorf("builder id %q: has a fragment; attest-build appends the TPM mode as the fragment", custom)
	}
	return custom + "#" + mode, nil
}

// ProvenanceInfo is what the SLSA statement records beside the TPM/IMA
// predicate.
type ProvenanceInfo struct {
	BuilderID string
	Argv      []string
	Dir       string
	TPMMode   string
	PCRs      string // the quoted PCR selection, e.g. "sha256:0-10"
	IMALog    string // the IMA log path read ("" when none)
	// Source is the source repository and commit, when known.
	Source *intoto.ResourceDescriptor
	// InvocationID is the CI run URL, when known.
	InvocationID string
	// CI is the CI system's run context (CIContext), added to
	// internalParameters.
	CI map[string]any
	// Workflow is the GitHub Actions workflow reference (GitHubWorkflow),
	// recorded as externalParameters.workflow; nil outside GitHub.
	Workflow map[string]any
	// Version is attest-build's version, the SLSA builder.version
	// {"attest-build": Version}; "" means Version().
	Version string
	// BuilderDependencies name the kernel and attest-build itself.
	BuilderDependencies []*intoto.ResourceDescriptor
	StartedOn           time.Time
	FinishedOn          time.Time
	// Byproducts name the TPM/IMA evidence by digest.
	Byproducts []*intoto.ResourceDescriptor
}

// SLSAPredicate builds and validates the SLSA provenance v1 predicate and
// returns it as compact JSON.
func SLSAPredicate(info ProvenanceInfo) (json.RawMessage, error) {
	argv := make([]any, len(info.Argv))
	for i, a := range info.Argv {
		argv[i] = a
	}
	extMap := map[string]any{"argv": argv, "workingDirectory": info.Dir}
	if info.Workflow != nil {
		extMap["workflow"] = info.Workflow
	}
	ext, err := structpb.NewStruct(extMap)
	if err != nil {
		return nil, fmt.Errorf("SLSA externalParameters: %w", err)
	}
	internalMap := map[string]any{
		"tpm":    map[string]any{"mode": info.TPMMode, "pcrs": info.PCRs},
		"imaLog": info.IMALog,
	}
	for k, v := range info.CI {
		internalMap[k] = v
	}
	internal, err := structpb.NewStruct(internalMap)
	if err != nil {
		return nil, fmt.Errorf("SLSA internalParameters: %w", err)
	}
	version := info.Version
	if version == "" {
		version = Version()
	}
	p := &slsa.Provenance{
		BuildDefinition: &slsa.BuildDefinition{
			BuildType:          BuildType,
			ExternalParameters: ext,
			InternalParameters: internal,
		},
		RunDetails: &slsa.RunDetails{
			Builder: &slsa.Builder{Id: info.BuilderID, Version: map[string]string{"attest-build": version}, BuilderDependencies: info.BuilderDependencies},
			Metadata: &slsa.BuildMetadata{
				InvocationId: info.InvocationID,
				StartedOn:    timestamppb.New(info.StartedOn),
				FinishedOn:   timestamppb.New(info.FinishedOn),
			},
			Byproducts: info.Byproducts,
		},
	}
	if info.Source != nil {
		p.BuildDefinition.ResolvedDependencies = []*intoto.ResourceDescriptor{info.Source}
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("SLSA provenance: %w", err)
	}
	if err := locatable(p); err != nil {
		return nil, fmt.Errorf("SLSA provenance: %w", err)
	}
	b, err := protojson.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encoding SLSA provenance: %w", err)
	}
	// protojson varies its whitespace on purpose; compact it so the signed
	// bytes are the same for the same provenance.
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, fmt.Errorf("encoding SLSA provenance: %w", err)
	}
	return buf.Bytes(), nil
}

// Where a source descriptor's facts came from: its "sourceFrom" annotation.
const (
	SourceFromGitHub = "github-env"       // the runner's GITHUB_* variables
	SourceFromGitLab = "gitlab-env"       // GitLab CI's CI_* variables
	SourceFromGit    = "git-before-build" // git in the working directory, before the build ran
)

// locatable checks what the SLSA specification asks of every
// ResourceDescriptor beyond the in-toto bindings' Validate (which accepts a
// name alone): each has a uri, a digest or content.
func locatable(p *slsa.Provenance) error {
	lists := []struct {
		field string
		rds   []*intoto.ResourceDescriptor
	}{
		{"buildDefinition.resolvedDependencies", p.GetBuildDefinition().GetResolvedDependencies()},
		{"runDetails.builder.builderDependencies", p.GetRunDetails().GetBuilder().GetBuilderDependencies()},
		{"runDetails.byproducts", p.GetRunDetails().GetByproducts()},
	}
	for _, l := range lists {
		for i, rd := range l.rds {
			if rd.GetUri() == "" && len(rd.GetDigest()) == 0 && len(rd.GetContent()) == 0 {
				return fmt.Errorf("%s[%d] (%q): no uri, digest or content", l.field, i, rd.GetName())
			}
		}
	}
	return nil
}

// SourceFromEnv finds the source repository and commit of a build in
// dir, and the CI run URL: from GITHUB_* variables (GitHub Actions), from
// CI_* variables (GitLab CI), else from git in dir. Credentials in a remote
// URL are removed. Both results are empty when nothing is known. The
// descriptor's "sourceFrom" annotation says which (SourceFromGitHub,
// SourceFromGitLab, SourceFromGit).
//
// Call it before the build runs: the build can rewrite .git (the remote URL,
// the branch, HEAD). git runs with a minimal environment (PATH, HOME and
// fixed settings; never the signing key's variables).
func SourceFromEnv(ctx context.Context, dir string, env []string) (*intoto.ResourceDescriptor, string) {
	get := envGetter(env)
	if repo, sha := get("GITHUB_REPOSITORY"), get("GITHUB_SHA"); repo != "" && sha != "" {
		server := get("GITHUB_SERVER_URL")
		if server == "" {
			server = "https://github.com"
		}
		src := gitDescriptor(server+"/"+repo, get("GITHUB_REF"), sha, SourceFromGitHub)
		var inv string
		if run := get("GITHUB_RUN_ID"); run != "" {
			inv = server + "/" + repo + "/actions/runs/" + run
			if a := get("GITHUB_RUN_ATTEMPT"); a != "" {
				inv += "/attempts/" + a
			}
		}
		return src, inv
	}
	if project, sha := get("CI_PROJECT_URL"), get("CI_COMMIT_SHA"); project != "" && sha != "" {
		ref := get("CI_COMMIT_REF_NAME")
		if ref != "" {
			ref = "refs/heads/" + ref
			if get("CI_COMMIT_TAG") != "" {
				ref = "refs/tags/" + get("CI_COMMIT_TAG")
			}
		}
		return gitDescriptor(project, ref, sha, SourceFromGitLab), get("CI_JOB_URL")
	}
	genv := gitEnv(get)
	git := func(args ...string) string {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
		cmd.Env = genv
		out, err := cmd.Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	sha := git("rev-parse", "--verify", "-q", "HEAD")
	if sha == "" {
		return nil, ""
	}
	remote := git("remote", "get-url", "origin")
	if remote == "" {
		remote = "file://" + git("rev-parse", "--show-toplevel")
	}
	return gitDescriptor(remote, git("symbolic-ref", "-q", "HEAD"), sha, SourceFromGit), ""
}

// gitEnv is git's environment: PATH and HOME from env (HOME for the user's
// safe.directory settings), nothing else of attest-build's (no signing key,
// no GIT_DIR or GIT_CONFIG_* pointing git elsewhere).
func gitEnv(get func(string) string) []string {
	env := []string{"LC_ALL=C", "GIT_TERMINAL_PROMPT=0", "GIT_OPTIONAL_LOCKS=0", "GIT_NO_REPLACE_OBJECTS=1"}
	for _, name := range []string{"PATH", "HOME"} {
		if v := get(name); v != "" {
			env = append(env, name+"="+v)
		}
	}
	return env
}

// gitDescriptor returns a resolvedDependencies entry in the SLSA convention:
// uri "git+URL@REF", digest {"gitCommit": SHA}, annotated with where the
// facts came from.
func gitDescriptor(remote, ref, sha, from string) *intoto.ResourceDescriptor {
	remote = stripCredentials(remote)
	if !strings.HasPrefix(remote, "git+") {
		remote = "git+" + remote
	}
	if ref != "" {
		remote += "@" + ref
	}
	return &intoto.ResourceDescriptor{Uri: remote, Digest: map[string]string{"gitCommit": sha},
		Annotations: &structpb.Struct{Fields: map[string]*structpb.Value{"sourceFrom": structpb.NewStringValue(from)}}}
}

// stripCredentials removes user:password@ from a URL (CI remotes often carry
// a token); scp-like remotes (git@host:path) are kept as they are.
func stripCredentials(remote string) string {
	u, err := url.Parse(remote)
	if err != nil || u.User == nil || u.Scheme == "" {
		return remote
	}
	u.User = nil
	return u.String()
}
