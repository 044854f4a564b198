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

	"github.com/attest-build/attest-build/provenance/internal/provtest"
)

// TestWriteBaselineBenchFixture writes the fixture of the incremental
// attestation benchmark (scripts/bench-incremental.sh, docs/benchmarks.md)
// to $ATTEST_BUILD_BENCH_DIR, from the log at $ATTEST_BUILD_BENCH_LOG
// (imagen): with the simulator, $ATTEST_BUILD_BENCH_BUILDS builds (default
// 100) one after another on the same runner with a baseline directory, the
// log holding all but the last BUILDS × 1,000 entries before the first,
// each build adding 1,000: the first makes the boot's baseline, each a
// baseline continuing the one before. Written: b1/out.bin and its
// attestation, ..., the baselines in base/, signer.pub. Skipped without
// those variables.
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
	baseDir := filepath.Join(dir, "base")
	for k := range builds {
		end := at + (k+1)*perBuild
		part := realIMALog{records: l.records[:end], entries: l.entries[:end]}
		have := end - perBuild // the log file as the build before left it
		if k == 0 {
			have = 0
		}
		a := attestWith(t, r, part, end-perBuild, fmt.Sprintf("build %d", k+1), attestConfig{log: logPath, have: have, signer: signer, baselineDir: baseDir})
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
