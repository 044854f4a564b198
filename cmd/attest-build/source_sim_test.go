//go:build simulator && cgo

package main

import (
	"os"
	"strings"
	"testing"
)

// The policy's source: rule is checked against the SLSA statement's
// resolvedDependencies and externalParameters.workflow of a build made in a
// (simulated) GitHub Actions job.
func TestVerifySourceRule(t *testing.T) {
	t.Chdir(t.TempDir())
	for k, v := range map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "octo-org/hello",
		"GITHUB_REF": "refs/tags/v1.2.3", "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
		"GITHUB_WORKFLOW_REF": "octo-org/hello/.github/workflows/release.yml@refs/tags/v1.2.3", "GITHUB_RUN_ID": "42",
	} {
		t.Setenv(k, v)
	}
	if out, err := runCLI(t, "key", "generate", "--out", "signer"); err != nil {
		t.Fatalf("key generate: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "--tpm", "sim", "-k", "signer.key", "-a", "c.bin", "--", "sh", "-c", "echo c > c.bin"); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "policy", "init", "--from", "c.bin.intoto.jsonl", "--key", "signer.pub", "-o", "base.yaml"); err != nil {
		t.Fatalf("policy init: %v\n%s", err, out)
	}
	base, err := os.ReadFile("base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, source string
		want         int
	}{
		{"repository and tag pattern", "source:\n  repository: https://github.com/octo-org/hello\n  refs: [refs/heads/main, 'refs/tags/v*']\n", 0},
		{"any ref, exact commit, git+ and .git", "source:\n  repository: git+https://GitHub.com/octo-org/hello.git\n  commit: 0123456789abcdef0123456789abcdef01234567\n", 0},
		{"another repository", "source:\n  repository: https://github.com/octo-org/other\n", 1},
		{"branch only", "source:\n  repository: https://github.com/octo-org/hello\n  refs: [refs/heads/main]\n", 1},
		{"another commit", "source:\n  repository: https://github.com/octo-org/hello\n  commit: 1111111111111111111111111111111111111111\n", 1},
		{"not a URL", "source:\n  repository: octo-org/hello\n", 1},
	} {
		if err := os.WriteFile("policy.yaml", append(append([]byte{}, base...), tc.source...), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := runCLI(t, "verify", "--policy", "policy.yaml", "c.bin")
		if got := exitCode(err); got != tc.want {
			t.Errorf("%s: exit %d, want %d (%v)\n%s", tc.name, got, tc.want, err, out)
		}
		if tc.want == 1 && tc.name != "not a URL" && !strings.Contains(out+errString(err), "source") {
			t.Errorf("%s: the failure does not name the source check:\n%s", tc.name, out)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
