// Package imatest writes synthetic Linux IMA measurement logs (template
// ima-ng, binary form) for tests, and extends a TPM's PCR 10 to match them
// as the kernel does, so that a test's attestation carries a log that
// replays to its quotes. Tests only; the product never imports it.
package imatest

import (
	"bufio"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/attest-build/attest-build/internal/realtest"
	"github.com/attest-build/attest-build/internal/swtpmtest"
)

// Record returns one binary_runtime_measurements record of template
// ima-ng for path with a file digest derived from it, and the digests the
// kernel extends PCR 10 with: the sha1 template hash and the sha256 of the
// template data (kernel 5.8 and later).
func Record(path string) (rec []byte, sha1TH [20]byte, sha256TD [32]byte) {
	fd := sha256.Sum256([]byte("content of " + path))
	if path == "boot_aggregate" {
		// What the kernel logs on a TPM whose sha256 PCRs 0-9 are zero (the
		// simulator's and a fresh swtpm's), so that verify's boot_aggregate
		// check binds the log to the rig's boot.
		fd = sha256.Sum256(make([]byte, 10*sha256.Size))
	}
	var data []byte
	data = binary.LittleEndian.AppendUint32(data, uint32(len("sha256:")+1+len(fd)))
	data = append(data, "sha256:\x00"...)
	data = append(data, fd[:]...)
	data = binary.LittleEndian.AppendUint32(data, uint32(len(path)+1))
	data = append(data, path...)
	data = append(data, 0)
	sha1TH = sha1.Sum(data)
	sha256TD = sha256.Sum256(data)
	rec = binary.LittleEndian.AppendUint32(rec, 10)
	rec = append(rec, sha1TH[:]...)
	rec = binary.LittleEndian.AppendUint32(rec, uint32(len("ima-ng")))
	rec = append(rec, "ima-ng"...)
	rec = binary.LittleEndian.AppendUint32(rec, uint32(len(data)))
	rec = append(rec, data...)
	return rec, sha1TH, sha256TD
}

// Append appends records for paths to the log file and calls extend with
// each record's PCR 10 digests, in order, as the kernel does.
func Append(t testing.TB, log string, paths []string, extend func(sha1TH [20]byte, sha256TD [32]byte)) {
	t.Helper()
	f, err := os.OpenFile(log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	for _, p := range paths {
		rec, th, td := Record(p)
		if _, err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if extend != nil {
			extend(th, td)
		}
	}
}

// SWTPMExtender returns an extend function for Append that extends PCR 10
// of the swtpm with tpm2_pcrextend (tpm2-tools through swtpm's socket), in
// both banks, as the kernel does.
func SWTPMExtender(t testing.TB, sw *swtpmtest.SWTPM) func([20]byte, [32]byte) {
	t.Helper()
	tool := realtest.LookPath(t, "tpm2_pcrextend", "tpm2-tools")
	return func(th [20]byte, td [32]byte) {
		arg := fmt.Sprintf("10:sha1=%x,sha256=%x", th, td)
		if out, err := exec.Command(tool, "-T", sw.TCTI(), arg).CombinedOutput(); err != nil {
			t.Errorf("tpm2_pcrextend %s: %v: %s", arg, err, out)
		}
	}
}

// GrowDuring returns the argv of a build command that signals it has
// started, waits while the test appends the records of during to log
// (calling extend for each, as the kernel would while the build runs),
// and then runs script. Files the two sides signal with live in flags.
func GrowDuring(t testing.TB, flags, log string, during []string, extend func(sha1TH [20]byte, sha256TD [32]byte), script string) []string {
	t.Helper()
	started, proceed := filepath.Join(flags, "started"), filepath.Join(flags, "go")
	go func() {
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if _, err := os.Stat(started); err == nil {
				Append(t, log, during, extend)
				os.WriteFile(proceed, nil, 0o644)
				return
			}
		}
	}()
	return []string{"sh", "-c", `touch "$1"; while [ ! -e "$2" ]; do sleep 0.01; done; ` + script, "sh", started, proceed}
}
