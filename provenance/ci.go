package provenance

import "strings"

// CIContext returns what the CI system says about the run beyond the source
// and the invocation (SourceFromEnv): for GitHub Actions the workflow ref, the
// event, and whether the runner is GitHub-hosted or self-hosted; for GitLab CI
// the pipeline, the job's config and the runner. The SLSA statement records
// it under internalParameters ("github" or "gitlab"); nil outside CI.
func CIContext(env []string) map[string]any {
	get := envGetter(env)
	pick := func(pairs ...string) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(pairs); i += 2 {
			if v := get(pairs[i+1]); v != "" {
				m[pairs[i]] = v
			}
		}
		return m
	}
	if get("GITHUB_ACTIONS") == "true" || get("GITHUB_RUN_ID") != "" {
		return map[string]any{"github": pick(
			"workflowRef", "GITHUB_WORKFLOW_REF",
			"workflowSha", "GITHUB_WORKFLOW_SHA",
			"eventName", "GITHUB_EVENT_NAME",
			"repositoryId", "GITHUB_REPOSITORY_ID",
			"repositoryOwnerId", "GITHUB_REPOSITORY_OWNER_ID",
			"runnerEnvironment", "RUNNER_ENVIRONMENT",
			"runnerName", "RUNNER_NAME",
		)}
	}
	if get("GITLAB_CI") == "true" || get("CI_JOB_ID") != "" {
		return map[string]any{"gitlab": pick(
			"pipelineUrl", "CI_PIPELINE_URL",
			"pipelineSource", "CI_PIPELINE_SOURCE",
			"configPath", "CI_CONFIG_PATH",
			"projectId", "CI_PROJECT_ID",
			"runnerId", "CI_RUNNER_ID",
			"runnerDescription", "CI_RUNNER_DESCRIPTION",
		)}
	}
	return nil
}

// GitHubWorkflow returns the workflow reference of a GitHub Actions run as
// GitHub's own SLSA buildType (https://actions.github.io/buildtypes/workflow/v1)
// records it in externalParameters.workflow: {"ref": "refs/heads/main",
// "repository": "https://github.com/OWNER/REPO", "path":
// ".github/workflows/build.yml"}, taken from GITHUB_WORKFLOW_REF
// ("OWNER/REPO/PATH@REF") and GITHUB_SERVER_URL. nil outside GitHub Actions
// or when GITHUB_WORKFLOW_REF is missing or malformed.
func GitHubWorkflow(env []string) map[string]any {
	get := envGetter(env)
	wref := get("GITHUB_WORKFLOW_REF")
	at := strings.LastIndex(wref, "@")
	if at < 0 {
		return nil
	}
	full, ref := wref[:at], wref[at+1:]
	parts := strings.SplitN(full, "/", 3)
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" || ref == "" {
		return nil
	}
	server := get("GITHUB_SERVER_URL")
	if server == "" {
		server = "https://github.com"
	}
	return map[string]any{
		"ref":        ref,
		"repository": strings.TrimSuffix(server, "/") + "/" + parts[0] + "/" + parts[1],
		"path":       parts[2],
	}
}

// envGetter looks variables up in env (KEY=VALUE, the last one winning, as
// exec does).
func envGetter(env []string) func(string) string {
	return func(k string) string {
		for i := len(env) - 1; i >= 0; i-- {
			if v, ok := strings.CutPrefix(env[i], k+"="); ok {
				return v
			}
		}
		return ""
	}
}
