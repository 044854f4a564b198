package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/internal/swtpmtest"
	"github.com/attest-build/attest-build/tpm"
)

func TestTPMAKAndInfoOnSwtpm(t *testing.T) {
	s := swtpmtest.Start(t)
	pubFile := filepath.Join(t.TempDir(), "ak.pub")
	first, err := runCLI(t, "tpm", "ak", "--tpm", s.Ref(), "--out", pubFile)
	if err != nil {
		t.Fatalf("tpm ak: %v\n%s", err, first)
	}
	second, err := runCLI(t, "tpm", "ak", "--tpm", s.Ref())
	if err != nil {
		t.Fatalf("tpm ak again: %v\n%s", err, second)
	}
	if first != second {
		t.Fatalf("tpm ak is not idempotent:\n%s\nthen\n%s", first, second)
	}
	pemBytes, err := os.ReadFile(pubFile)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := tpm.ParseAKPEM(pemBytes)
	if err != nil {
		t.Fatalf("--out file: %v", err)
	}
	fp, err := tpm.Fingerprint(pub)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(first, "# fingerprint "+fp+"\n") || !strings.HasSuffix(first, string(pemBytes)) {
		t.Fatalf("output does not carry the fingerprint %s and the PEM written to --out:\n%s", fp, first)
	}

	info, err := runCLI(t, "tpm", "info", "--tpm", s.Ref())
	if err != nil {
		t.Fatalf("tpm info: %v\n%s", err, info)
	}
	for _, want := range []string{"manufacturer:     IBM", "pcr banks:        sha1, sha256", "ek certificate:   NV 0x01c00002, RSA 2048"} {
		if !strings.Contains(info, want) {
			t.Errorf("tpm info lacks %q:\n%s", want, info)
		}
	}
}

func TestTPMUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"tpm", "ak", "--ak-alg", "dsa"},
		{"tpm", "ak", "--ak-handle", "zz"},
		{"tpm", "ak", "--ak-handle", "0x1234"},     // outside the owner persistent range
		{"tpm", "ak", "--ak-handle", "0x81010001"}, // an EK's
		{"--ak-handle", "0x1234", "--tpm", "sim", "-k", "x.key", "--", "true"},
		{"tpm", "info", "extra"},
	} {
		_, err := runCLI(t, args...)
		if err == nil || !isUsage(err) {
			t.Errorf("%v: got %v, want a usage error (exit 2)", args, err)
		}
	}
}

// --tpm swtpm:CTRL (swtpm's control socket, a documented mistake) fails at
// once, naming the control channel and what to give instead.
func TestTPMControlSocket(t *testing.T) {
	sw := swtpmtest.Start(t)
	_, stderr, code := runMain(t, "", "tpm", "info", "--tpm", "swtpm:"+sw.Ctrl)
	if code != 1 || !strings.Contains(stderr, "as swtpm's control channel (--ctrl) answers; give swtpm's TPM socket") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}
