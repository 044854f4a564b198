package verify_test

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/attest-build/attest-build/provenance/policy"
	"github.com/attest-build/attest-build/provenance/verify"
)

// BenchmarkVerifyFixture verifies the fixture TestWriteBenchFixture wrote to
// $ATTEST_BUILD_BENCH_DIR (with policy-window.yaml from policy init, or the
// policy file $ATTEST_BUILD_BENCH_POLICY names there, and the signer's
// signer.pub beside it), as docs/benchmarks.md describes.
func BenchmarkVerifyFixture(b *testing.B) {
	dir := os.Getenv("ATTEST_BUILD_BENCH_DIR")
	if dir == "" {
		b.Skip("set ATTEST_BUILD_BENCH_DIR to a fixture folder (docs/benchmarks.md)")
	}
	name := os.Getenv("ATTEST_BUILD_BENCH_POLICY")
	if name == "" {
		name = "policy-window.yaml"
	}
	p, err := policy.LoadPolicy(dir + "/" + name)
	if err != nil {
		b.Fatal(err)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(mustRead(b, dir+"/signer.pub"))
	if err != nil {
		b.Fatal(err)
	}
	v, err := verify.NewVerifier(p, verify.WithSignerKeys(pub))
	if err != nil {
		b.Fatal(err)
	}
	art, err := verify.ArtifactFromFile(dir + "/out.bin")
	if err != nil {
		b.Fatal(err)
	}
	data := mustRead(b, dir+"/out.bin.intoto.jsonl")
	b.ResetTimer()
	for range b.N {
		if _, err := v.Verify(context.Background(), bytes.NewReader(data), art); err != nil {
			b.Fatal(err)
		}
	}
}
