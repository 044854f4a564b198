package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/internal/swtpmtest"
)

func TestBuildUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"make"},
		{"--pcrs", "sha999:1", "-k", "x", "--", "true"},
		{"--builder-id", "not a uri", "-k", "x", "--", "true"},
		{"--", "true"}, // no key
		{"key", "generate"},
	} {
		t.Setenv(keyEnv, "")
		_, err := runCLI(t, args...)
		if err == nil || !isUsage(err) {
			t.Errorf("%q: err %v, want a usage error (exit 2)", args, err)
		}
	}
}

// The CLI end to end on a real swtpm: key generate, a build with
// ATTEST_BUILD_KEY and an encrypted key, the attestation beside the
// artifact; a failing build exits with its status and writes nothing.
func TestBuildCLISwtpm(t *testing.T) {
	s := swtpmtest.Start(t)
	dir := t.TempDir()
	prefix := filepath.Join(t.TempDir(), "signing")
	t.Setenv("ATTEST_BUILD_KEY_PASSWORD", "pw")
	out, err := runCLI(t, "key", "generate", "--out", prefix)
	if err != nil {
		t.Fatalf("key generate: %v\n%s", err, out)
	}
	if fi, err := os.Stat(prefix + ".key"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key: %v %v", fi, err)
	}
	t.Setenv(keyEnv, prefix+".key")
	t.Chdir(dir)
	out, err = runCLI(t, "--tpm", s.Ref(), "--ima-log", filepath.Join(dir, "none"), "-a", "out/*.bin", "--", "sh", "-c", "mkdir out && echo x > out/a.bin")
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "out", "a.bin.intoto.jsonl"))
	if err != nil || strings.Count(string(data), "\n") != 2 {
		t.Fatalf("attestation: %v, %d lines", err, strings.Count(string(data), "\n"))
	}

	_, err = runCLI(t, "--tpm", s.Ref(), "--ima-log", filepath.Join(dir, "none"), "-o", "fail.intoto.jsonl", "--", "sh", "-c", "exit 5")
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 5 {
		t.Fatalf("failing build: err %v, want exit status 5", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "fail.intoto.jsonl")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failing build wrote an attestation (%v)", err)
	}

	t.Setenv("ATTEST_BUILD_KEY_PASSWORD", "wrong")
	if _, err := runCLI(t, "--tpm", s.Ref(), "--", "true"); err == nil || isUsage(err) {
		t.Fatalf("wrong key password: err %v, want a plain failure (exit 1)", err)
	}
}
