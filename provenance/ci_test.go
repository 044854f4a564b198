package provenance_test

import (
	"reflect"
	"testing"

	"github.com/attest-build/attest-build/provenance"
)

func TestCIContext(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		want map[string]any
	}{
		{"none", []string{"PATH=/bin", "CI=true"}, nil},
		{"github", []string{"GITHUB_ACTIONS=true", "GITHUB_WORKFLOW_REF=o/r/.github/workflows/release.yml@refs/heads/main",
			"GITHUB_EVENT_NAME=push", "RUNNER_ENVIRONMENT=github-hosted", "RUNNER_ENVIRONMENT=self-hosted", "GITHUB_REPOSITORY_ID=1"},
			map[string]any{"github": map[string]any{"workflowRef": "o/r/.github/workflows/release.yml@refs/heads/main",
				"eventName": "push", "runnerEnvironment": "self-hosted", "repositoryId": "1"}}},
		{"gitlab", []string{"GITLAB_CI=true", "CI_PIPELINE_URL=https://gitlab.example/g/p/-/pipelines/7", "CI_RUNNER_ID=12", "CI_CONFIG_PATH=.gitlab-ci.yml"},
			map[string]any{"gitlab": map[string]any{"pipelineUrl": "https://gitlab.example/g/p/-/pipelines/7", "runnerId": "12", "configPath": ".gitlab-ci.yml"}}},
	} {
		if got := provenance.CIContext(tc.env); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: CIContext = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestGitHubWorkflow(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		want map[string]any
	}{
		{"none", []string{"PATH=/bin"}, nil},
		{"github.com", []string{"GITHUB_WORKFLOW_REF=o/r/.github/workflows/release.yml@refs/heads/main"},
			map[string]any{"ref": "refs/heads/main", "repository": "https://github.com/o/r", "path": ".github/workflows/release.yml"}},
		{"enterprise server", []string{"GITHUB_SERVER_URL=https://ghe.example/", "GITHUB_WORKFLOW_REF=o/r/.github/workflows/a@b.yml@refs/tags/v1"},
			map[string]any{"ref": "refs/tags/v1", "repository": "https://ghe.example/o/r", "path": ".github/workflows/a@b.yml"}},
		{"no ref", []string{"GITHUB_WORKFLOW_REF=o/r/.github/workflows/release.yml"}, nil},
		{"no path", []string{"GITHUB_WORKFLOW_REF=o/r@refs/heads/main"}, nil},
	} {
		if got := provenance.GitHubWorkflow(tc.env); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: GitHubWorkflow = %v, want %v", tc.name, got, tc.want)
		}
	}
}
