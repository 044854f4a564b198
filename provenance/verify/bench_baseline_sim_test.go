//go:build simulator && cgo

package verify_test

import (
	"crypto"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/provenance/internal/provtest"
)

// TestWriteBaselineBenchFixture writes the fixture of the incremental
// attestation benchmark (scripts/bench-incremental.sh, docs/benchmarks.md)
// to $ATTEST_BUILD_BENCH_DIR, from the log at $ATTEST_BUILD_BENCH_LOG
// (imagen): with the simulator, an IMA baseline after all but the last
// BUILDS × 1,000 entries, then $ATTEST_BUILD_BENCH_BUILDS builds one after
// another on the same runner, each adding 1,000 entries and continuing the
// baseline: b1/out.bin and its attestation, ..., the baseline in base/,
// signer.pub. Skipped without those variables.
func TestWriteBaselineBenchFixture(t *testing.T) {
	dir, logSrc := os.Getenv("ATTEST_BUILD_BENCH_DIR"), os.Getenv("ATTEST_BUILD_BENCH_LOG")
	if dir == "" || logSrc == "" {
		t.Skip("set ATTEST_BUILD_BENCH_DIR and ATTEST_BUILD_BENCH_LOG to write the incremental attestation benchmark fixture")
	}
	builds, err := strconv.Atoi(os.Getenv("ATTEST_BUILD_BENCH_BUILDS"))
	if err != nil || builds < 1 {
		builds = 100
	}
	const perBuild = 1000
	l := withBootAggregate(t, splitLog(t, mustRead(t, logSrc)))
	n := len(l.entries)
	at := n - builds*perBuild
	if at < 1 {
		t.Fatalf("the log has %d entries, fewer than %d builds of %d", n, builds, perBuild)
	}
	r := provtest.SimRig(provtest.OpenSimulator(t, "sha256:0-10"))
	signer := newSigner(t)
	logPath := filepath.Join(t.TempDir(), "binary_runtime_measurements")
	var base *provenance.BaselineRef
	for k := range builds {
		end := at + (k+1)*perBuild
		part := realIMALog{records: l.records[:end], entries: l.entries[:end]}
		cfg := attestConfig{log: logPath, have: at + k*perBuild, baseline: base, signer: signer}
		if k == 0 {
			cfg.baselineAt, cfg.have = at, 0
		}
		a := attestWith(t, r, part, end-perBuild, fmt.Sprintf("build %d", k+1), cfg)
		if k == 0 {
			if base, err = provenance.LoadBaseline(a.baseline); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(dir, "base"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "base", "runner"+provenance.BaselineSuffix), mustRead(t, a.baseline), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		bd := filepath.Join(dir, fmt.Sprintf("b%d", k+1))
		if err := os.MkdirAll(bd, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, src := range map[string]string{"out.bin": a.artifact, "out.bin.intoto.jsonl": a.att} {
			if err := os.WriteFile(filepath.Join(bd, name), mustRead(t, src), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	pub, err := cryptoutils.MarshalPublicKeyToPEM(crypto.PublicKey(signer.PublicKey()))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "signer.pub"), pub, 0o644); err != nil {
		t.Fatal(err)
	}
}
