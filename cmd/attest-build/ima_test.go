package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/evidence"
)

const vmLog = "../../testdata/ima/vm-debian12-swtpm.bin"

func TestIMAReplayCommand(t *testing.T) {
	out, err := runCLI(t, "ima", "replay", "--log", vmLog, "--bank", "sha256")
	if err != nil || out != "4af79a5e79a3e06675d7785b3be6e45537d47adb0a9b3042f6e71e6fb9c9347d\n" {
		t.Fatalf("sha256: %q %v", out, err)
	}
	out, err = runCLI(t, "ima", "replay", "--log", vmLog, "--bank", "sha1", "--format", "json")
	if err != nil || !strings.Contains(out, `"value": "719d7d1dd69c326a3c5b973fc97fc42e9632ed17"`) || !strings.Contains(out, `"violations": 1`) {
		t.Fatalf("json: %q %v", out, err)
	}
	// The README's Quick start line, from the repository root.
	out, err = runCLI(t, "ima", "replay", "--log", vmLog, "--bank", "sha256",
		"--match", "4af79a5e79a3e06675d7785b3be6e45537d47adb0a9b3042f6e71e6fb9c9347d")
	if err != nil || out != "49\n" {
		t.Fatalf("--match: %q %v", out, err)
	}
}

func TestIMAShowCommand(t *testing.T) {
	out, err := runCLI(t, "ima", "show", "--log", vmLog)
	want, rerr := os.ReadFile("../../testdata/ima/vm-debian12-swtpm.ascii")
	if err != nil || rerr != nil || out != string(want) {
		t.Fatalf("show differs from the kernel's ascii file: %v %v", err, rerr)
	}
}

// Exit statuses: malformed input and no prefix are errors (1), flag
// mistakes usage errors (2).
func TestIMAExitStatus(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.bin")
	log, _ := os.ReadFile(vmLog)
	os.WriteFile(bad, log[:len(log)-3], 0o600)

	_, err := runCLI(t, "ima", "replay", "--log", bad)
	if !errors.Is(err, evidence.ErrTruncated) || isUsage(err) {
		t.Errorf("truncated log: %v", err)
	}
	_, err = runCLI(t, "ima", "replay", "--log", vmLog, "--match", strings.Repeat("ab", 32))
	if !errors.Is(err, evidence.ErrNoPrefixMatch) || isUsage(err) {
		t.Errorf("no prefix: %v", err)
	}
	for _, args := range [][]string{
		{"ima", "replay", "--log", vmLog, "--bank", "md5"},
		{"ima", "replay", "--log", vmLog, "--format", "xml"},
		{"ima", "replay", "--log", vmLog, "--match", "abcd"},
		{"ima", "replay"},
		{"ima", "show", "--log", vmLog, "extra"},
	} {
		if _, err := runCLI(t, args...); err == nil || !isUsage(err) {
			t.Errorf("%v: %v is not a usage error", args, err)
		}
	}
}
