package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attest-build/attest-build/attestca"
	"github.com/attest-build/attest-build/ekcert"
	"github.com/attest-build/attest-build/internal/swtpmtest"
	"github.com/attest-build/attest-build/tpm"
)

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := runCLI(t, args...)
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// checkAKCert checks that file holds an AK certificate for the swtpm's AK,
// issued by the CA in caDir, of the class given.
func checkAKCert(t *testing.T, sw *swtpmtest.SWTPM, caDir, file string, class ekcert.Class) {
	t.Helper()
	certs, err := ekcert.ReadCertificates(file)
	if err != nil {
		t.Fatal(err)
	}
	caCerts, err := ekcert.ReadCertificates(filepath.Join(caDir, attestca.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(caCerts[0])
	tp, err := tpm.Open(sw.Ref())
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	ak, err := tp.EnsureAK(tpm.AKOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := attestca.VerifyAKCertificate(certs[0], attestca.AKCertOptions{Roots: roots, AK: ak.PublicKey, At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if v.Class != class {
		t.Errorf("class %s, want %s", v.Class, class)
	}
}

func TestEnrollByFilesCLI(t *testing.T) {
	sw := swtpmtest.Start(t)
	dir := t.TempDir()
	caDir := filepath.Join(dir, "ca")
	f := func(name string) string { return filepath.Join(dir, name) }
	mustRun(t, "ca", "init", "--dir", caDir)
	mustRun(t, "tpm", "enroll-request", "--tpm", sw.Ref(), "-o", f("req.json"))
	mustRun(t, "ca", "challenge", "--ca", caDir, "--ek-roots", sw.EKRoots(), "-o", f("chal.json"), f("req.json"))
	mustRun(t, "tpm", "activate", "--tpm", sw.Ref(), "-o", f("resp.json"), f("chal.json"))
	if fi, err := os.Stat(f("resp.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("response file: %v, mode %v; want 0600", err, fi.Mode())
	}
	mustRun(t, "ca", "issue", "--ca", caDir, "-o", f("ak.pem"), f("resp.json"))
	checkAKCert(t, sw, caDir, f("ak.pem"), ekcert.ClassHardware)

	// The same response again: refused, exit status 1.
	_, stderr, code := runMain(t, "", "ca", "issue", "--ca", caDir, "-o", f("ak2.pem"), f("resp.json"))
	if code != 1 || !strings.Contains(stderr, "already answered") {
		t.Fatalf("replayed response: exit %d, stderr %q; want 1 naming the used challenge", code, stderr)
	}
	// No anchors: a usage error.
	if _, _, code := runMain(t, "", "ca", "challenge", "--ca", caDir, "-o", f("c.json"), f("req.json")); code != 2 {
		t.Fatalf("challenge without anchors: exit %d, want 2", code)
	}
	// Hardware manufacturers' roots only: the swtpm is refused.
	_, stderr, code = runMain(t, "", "ca", "challenge", "--ca", caDir, "--ek-roots", "../../testdata/ek/roots-keylime", "-o", f("c.json"), f("req.json"))
	if code != 1 || !strings.Contains(stderr, "EK not trusted") {
		t.Fatalf("untrusted EK: exit %d, stderr %q", code, stderr)
	}
}

func TestEnrollOverHTTPCLI(t *testing.T) {
	sw := swtpmtest.Start(t)
	dir := t.TempDir()
	caDir := filepath.Join(dir, "ca")
	mustRun(t, "ca", "init", "--dir", caDir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var log bytes.Buffer
	done := make(chan error, 1)
	go func() {
		cmd := New()
		cmd.SetOut(&log)
		cmd.SetErr(&log)
		cmd.SetArgs([]string{"ca", "serve", "--ca", caDir, "--software-ek-roots", sw.EKRoots(), "--listen", addr})
		done <- cmd.ExecuteContext(ctx)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ca serve did not listen on %s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := filepath.Join(dir, "ak.pem")
	mustRun(t, "tpm", "enroll", "--tpm", sw.Ref(), "--ca-url", "https://"+addr, "--ca-cert", filepath.Join(caDir, attestca.CertFile), "-o", out)
	checkAKCert(t, sw, caDir, out, ekcert.ClassSoftware)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("ca serve: %v", err)
	}
	if !strings.Contains(log.String(), "issued AK certificate serial=") {
		t.Errorf("no audit line on the service's stderr:\n%s", log.String())
	}
}
