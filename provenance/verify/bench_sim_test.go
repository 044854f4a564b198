//go:build simulator && cgo

package verify_test

import (
	"bytes"
	"context"
	"crypto"
	"os"
	"path/filepath"
	"testing"

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/attest-build/attest-build/provenance/internal/provtest"
	"github.com/attest-build/attest-build/provenance/policy"
	"github.com/attest-build/attest-build/provenance/verify"
)

// bigAttestation makes, with the simulator, an attestation that carries the
// IMA log at $ATTEST_BUILD_BENCH_LOG (made by evidence/internal/imagen/cmd:
// all but its last 1000 entries before the build, those during it), and
// returns it with its artifact and a policy made by policy init.
func bigAttestation(tb testing.TB) (*attested, *policy.Policy, []byte) {
	tb.Helper()
	logPath := os.Getenv("ATTEST_BUILD_BENCH_LOG")
	if logPath == "" {
		tb.Skip("set ATTEST_BUILD_BENCH_LOG to a log made by go run ./evidence/internal/imagen/cmd -n 200000 -o FILE")
	}
	l := splitLog(tb, mustRead(tb, logPath))
	n := len(l.entries)
	a := attestAround(tb, provtest.SimRig(provtest.OpenSimulator(tb, "sha256:0-10")), l, n-1000, "big")
	f, err := os.Open(a.att)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	doc, err := verify.InitPolicy(context.Background(), f, verify.PolicyInitOptions{Scope: policy.ScopeBoot, SignerKeys: []crypto.PublicKey{a.signer.PublicKey()}})
	if err != nil {
		tb.Fatal(err)
	}
	p, err := policy.ParsePolicy(doc, "big")
	if err != nil {
		tb.Fatal(err)
	}
	return a, p, doc
}

// TestWriteBenchFixture writes the fixture of the verify benchmark (see
// docs/benchmarks.md) to $ATTEST_BUILD_BENCH_DIR: the attestation, the
// artifact and the policy. Skipped without that variable.
func TestWriteBenchFixture(t *testing.T) {
	dir := os.Getenv("ATTEST_BUILD_BENCH_DIR")
	if dir == "" {
		t.Skip("set ATTEST_BUILD_BENCH_DIR to write the 200,000-entry verify benchmark fixture")
	}
	a, _, doc := bigAttestation(t)
	for name, src := range map[string]string{"out.bin": a.artifact, "out.bin.intoto.jsonl": a.att} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), doc, 0o644); err != nil {
		t.Fatal(err)
	}
	pub, err := cryptoutils.MarshalPublicKeyToPEM(a.signer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "signer.pub"), pub, 0o644); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkVerify200k verifies an attestation carrying 200,000 IMA entries
// against a policy with an allowlist of every path (scope boot).
func BenchmarkVerify200k(b *testing.B) {
	a, p, _ := bigAttestation(b)
	data := mustRead(b, a.att)
	v, err := verify.NewVerifier(p)
	if err != nil {
		b.Fatal(err)
	}
	art, err := verify.ArtifactFromFile(a.artifact)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		if _, err := v.Verify(context.Background(), bytes.NewReader(data), art); err != nil {
			b.Fatal(err)
		}
	}
}
