package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// writeVMLogVariant writes the real log changed by edit to a file in a
// temporary folder and returns its path.
func writeVMLogVariant(t *testing.T, name string, edit func([]byte) []byte) string {
	t.Helper()
	log, err := os.ReadFile(vmLog)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, edit(log), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Exit statuses: malformed input and no prefix are errors (1), flag
// mistakes usage errors (2).
func TestIMAExitStatus(t *testing.T) {
	bad := writeVMLogVariant(t, "bad.bin", func(b []byte) []byte { return b[:len(b)-3] })

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
		{"ima", "replay", "--log", vmLog, "--pcr", "24"},
		{"ima", "replay", "--log", vmLog, "--pcr", "-1"},
		{"ima", "replay"},
		{"ima", "show", "--log", vmLog, "extra"},
	} {
		if _, err := runCLI(t, args...); err == nil || !isUsage(err) {
			t.Errorf("%v: %v is not a usage error", args, err)
		}
	}
}

// Template hash mismatches are listed on stderr with entry index and byte
// offset, at most maxMismatchLines of them, and fail the replay (exit 1):
// text output prints no value, json output carries them.
func TestIMAReplayMismatches(t *testing.T) {
	// The real log's record offsets, from a clean read.
	r, closeLog, err := (&imaLogOptions{Log: vmLog}).open(nil)
	if err != nil {
		t.Fatal(err)
	}
	var offsets []int64
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		offsets = append(offsets, e.Offset)
	}
	closeLog()
	// A record starts with the PCR (4 bytes), then the template hash: flip
	// its first byte in entries 1, 3, ... (entry 0 is left alone; none of
	// these is the log's violation, whose zero hash the flip would spoil
	// differently).
	flipped := map[int]bool{}
	one := writeVMLogVariant(t, "one.bin", func(b []byte) []byte { b[offsets[3]+4] ^= 0x01; return b })
	many := writeVMLogVariant(t, "many.bin", func(b []byte) []byte {
		for i := 1; i < len(offsets); i += 2 {
			if b[offsets[i]+4] == 0 {
				continue // the violation's all-zero hash
			}
			b[offsets[i]+4] ^= 0x01
			flipped[i] = true
		}
		return b
	})

	stdout, stderr, code := runMain(t, "", "ima", "replay", "--log", one)
	want := fmt.Sprintf("attest-build: entry 3 at byte offset %d: template hash mismatch:", offsets[3])
	if code != 1 || stdout != "" || !strings.HasPrefix(stderr, want) || !strings.Contains(stderr, "1 of 49 entries of PCR 10") {
		t.Errorf("one mismatch: exit %d, stdout %q, stderr:\n%s\nwant exit 1, no stdout, stderr starting %q", code, stdout, stderr, want)
	}

	stdout, stderr, code = runMain(t, "", "ima", "replay", "--log", many, "--format", "json")
	var j imaReplayJSON
	if err := json.Unmarshal([]byte(stdout), &j); err != nil {
		t.Fatalf("json output: %v\n%s", err, stdout)
	}
	if code != 1 || j.Mismatches != len(flipped) || len(j.MismatchIndices) != len(flipped) || len(j.MismatchOffsets) != len(flipped) {
		t.Fatalf("exit %d, %d mismatches (%d indices, %d offsets), want exit 1 and %d", code, j.Mismatches, len(j.MismatchIndices), len(j.MismatchOffsets), len(flipped))
	}
	for k, idx := range j.MismatchIndices {
		if !flipped[idx] || j.MismatchOffsets[k] != offsets[idx] {
			t.Errorf("mismatch %d: entry %d at %d, want a flipped entry at its offset %d", k, idx, j.MismatchOffsets[k], offsets[idx])
		}
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(lines) != maxMismatchLines+2 || !strings.Contains(lines[maxMismatchLines], fmt.Sprintf("and %d more", len(flipped)-maxMismatchLines)) {
		t.Errorf("stderr lists %d lines, want %d mismatches, a count of the rest and the error:\n%s", len(lines), maxMismatchLines, stderr)
	}
}
