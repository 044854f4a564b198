package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPolicyInitFromRootfs: policy init --from-rootfs hashes an image
// directory into a Keylime runtime policy beside -o, which the policy
// names and which loads; without -o it is a usage error (exit 2).
func TestPolicyInitFromRootfs(t *testing.T) {
	img := t.TempDir()
	files := map[string]string{"usr/bin/tool": "tool", "etc/conf": "conf", "var/log/x": "skipped by default"}
	for p, c := range files {
		os.MkdirAll(filepath.Join(img, filepath.Dir(p)), 0o755)
		if err := os.WriteFile(filepath.Join(img, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "p.yaml")
	_, stderr, code := runMain(t, "", "policy", "init", "--from-rootfs", img, "--all-owners", "--exclude", "/etc/.*", "-o", out)
	if code != 0 || !strings.Contains(stderr, "hashed 1 files") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(strings.TrimSuffix(out, ".yaml") + ".runtime-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Digests  map[string][]string `json:"digests"`
		Excludes []string            `json:"excludes"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("tool"))
	if len(doc.Digests) != 1 || doc.Digests["/usr/bin/tool"][0] != fmt.Sprintf("%x", sum) || len(doc.Excludes) != 1 {
		t.Errorf("runtime policy %s", data)
	}
	if stdout, stderr, code := runMain(t, "", "policy", "check", out); code != 0 {
		t.Errorf("policy check: exit %d: %s%s", code, stdout, stderr)
	}
	if _, _, code := runMain(t, "", "policy", "init", "--from-rootfs", img); code != 2 {
		t.Errorf("no -o: exit %d, want 2", code)
	}
}
