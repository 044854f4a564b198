package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/internal/swtpmtest"
	"github.com/attest-build/attest-build/provenance"
)

func TestBuildUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"make"},
		{"--pcrs", "sha999:1", "-k", "x", "--", "true"},
		{"--pcrs", "sha1:0", "-k", "x", "--", "true"},                          // no PCR 10: refused before the key or the TPM is opened
		{"--pcrs", "sha256:0-9+sha1:0", "--tpm", "/nonexistent", "--", "true"}, // ... and before the missing key is reported
		{"--pcr", "10", "-k", "x", "--", "true"},                               // --pcr is ima replay's
		{"--builder-id", "not a uri", "-k", "x", "--", "true"},
		{"-a", "dist/*.tar.gz", "-a", "dist/**.bin", "-k", "x", "--", "true"}, // a bad pattern: refused before the key or the build
		{"-a", "out/[x", "--", "true"},                                        // ... and before the missing key is reported
		{"--", "true"},                                                        // no key
		{"key", "generate"},
	} {
		t.Setenv(provenance.KeyEnv, "")
		_, err := runCLI(t, args...)
		if err == nil || !isUsage(err) {
			t.Errorf("%q: err %v, want a usage error (exit 2)", args, err)
		}
		if slices.Contains(args, "--pcrs") && !strings.Contains(err.Error(), "--pcrs: ") {
			t.Errorf("%q: err %v, want the --pcrs mistake named", args, err)
		}
		if slices.Contains(args, "-a") && !strings.Contains(err.Error(), "-a/--artifact: artifact pattern: bad pattern") {
			t.Errorf("%q: err %v, want the bad artifact pattern named", args, err)
		}
	}
}

// A signing key given as PEM text in ATTEST_BUILD_KEY (as a CI secret holds
// it) never appears in what the command prints or returns, whatever fails.
func TestBuildKeyTextNotShown(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "signing")
	if _, err := provenance.GenerateKey(prefix, provenance.KeyECDSAP256, []byte("pw")); err != nil {
		t.Fatal(err)
	}
	keyText, err := os.ReadFile(prefix + ".key")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(keyText)), "\n")
	for _, tt := range []struct {
		name, key string
		password  *string
		want      error
		code      int
	}{
		{"encrypted, no password", string(keyText), nil, provenance.ErrKeyPassword, 1},
		{"encrypted, wrong password", string(keyText), ptr("wrong"), provenance.ErrKeyPassword, 1},
		// Not PEM text, so a file name, and no such file: unreadable input.
		{"no BEGIN line", strings.Join(lines[1:], "\n"), nil, errPathError, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(provenance.KeyEnv, tt.key)
			t.Setenv(provenance.KeyPasswordEnv, "")
			if tt.password == nil {
				os.Unsetenv(provenance.KeyPasswordEnv)
			} else {
				t.Setenv(provenance.KeyPasswordEnv, *tt.password)
			}
			out, err := runCLI(t, "--tpm", "sim", "--", "true")
			if !matchesErr(err, tt.want) || isUsage(err) != (tt.code == 2) {
				t.Fatalf("err %v, want %v (exit %d)", err, tt.want, tt.code)
			}
			for _, line := range lines {
				if len(line) >= 16 && (strings.Contains(out, line) || strings.Contains(err.Error(), line)) {
					t.Fatalf("the key's text %q is shown: %v\n%s", line, err, out)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// errPathError stands for "any *fs.PathError" in error tables.
var errPathError = errors.New("a *fs.PathError")

func matchesErr(err, want error) bool {
	var pe *fs.PathError
	if want == errPathError {
		return errors.As(err, &pe)
	}
	return errors.Is(err, want)
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
	t.Setenv(provenance.KeyEnv, prefix+".key")
	t.Chdir(dir)
	// An empty IMA log: the swtpm's PCR 10 was never extended. (A missing
	// --ima-log is refused before the build: TestExitCodesSimulator.)
	none := filepath.Join(t.TempDir(), "empty.log")
	if err := os.WriteFile(none, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = runCLI(t, "--tpm", s.Ref(), "--ima-log", none, "-a", "out/*.bin", "--", "sh", "-c", "mkdir out && echo x > out/a.bin")
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "out", "a.bin.intoto.jsonl"))
	if err != nil || strings.Count(string(data), "\n") != 2 {
		t.Fatalf("attestation: %v, %d lines", err, strings.Count(string(data), "\n"))
	}

	_, err = runCLI(t, "--tpm", s.Ref(), "--ima-log", none, "-o", "fail.intoto.jsonl", "--", "sh", "-c", "exit 5")
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 5 {
		t.Fatalf("failing build: err %v, want exit status 5", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "fail.intoto.jsonl")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failing build wrote an attestation (%v)", err)
	}

	// The key's PEM text in ATTEST_BUILD_KEY (a CI secret) works as well.
	keyText, err := os.ReadFile(prefix + ".key")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(provenance.KeyEnv, string(keyText))
	if out, err := runCLI(t, "--tpm", s.Ref(), "--ima-log", none, "-o", "text.intoto.jsonl", "--", "sh", "-c", "echo y > y.bin"); err != nil {
		t.Fatalf("build with the key's PEM text in %s: %v\n%s", provenance.KeyEnv, err, out)
	}
	t.Setenv(provenance.KeyEnv, prefix+".key")

	t.Setenv("ATTEST_BUILD_KEY_PASSWORD", "wrong")
	if _, err := runCLI(t, "--tpm", s.Ref(), "--", "true"); err == nil || isUsage(err) {
		t.Fatalf("wrong key password: err %v, want a plain failure (exit 1)", err)
	}
}
