package provenance_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/provenance"
)

// git, run for the source outside CI, gets a minimal environment: never the
// signing key or its password, nor variables that point git elsewhere.
func TestSourceFromEnvGitEnvironment(t *testing.T) {
	bin := t.TempDir()
	record := filepath.Join(t.TempDir(), "git.env")
	fake := "#!/bin/sh\nenv >> " + record + "\necho 0123456789abcdef0123456789abcdef01234567\n"
	if err := os.WriteFile(filepath.Join(bin, "git"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	path := bin + string(os.PathListSeparator) + os.Getenv("PATH")
	t.Setenv("PATH", path)
	env := []string{"PATH=" + path, "HOME=/home/x", provenance.KeyEnv + "=-----BEGIN PRIVATE KEY-----SECRET", provenance.KeyPasswordEnv + "=pw-SECRET",
		"GIT_DIR=/elsewhere/.git", "GIT_CONFIG_GLOBAL=/elsewhere/config", "UNRELATED=x"}
	src, _ := provenance.SourceFromEnv(context.Background(), t.TempDir(), env)
	if src == nil || src.Digest["gitCommit"] != "0123456789abcdef0123456789abcdef01234567" {
		t.Fatalf("source %v: the fake git was not used", src)
	}
	if got := src.GetAnnotations().GetFields()["sourceFrom"].GetStringValue(); got != provenance.SourceFromGit {
		t.Errorf("sourceFrom %q, want %q", got, provenance.SourceFromGit)
	}
	data, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"SECRET", "GIT_DIR=", "GIT_CONFIG_GLOBAL=", "UNRELATED="} {
		if strings.Contains(string(data), bad) {
			t.Errorf("git's environment holds %q:\n%s", bad, data)
		}
	}
	if !strings.Contains(string(data), "HOME=/home/x") {
		t.Errorf("git's environment lacks HOME:\n%s", data)
	}
}
