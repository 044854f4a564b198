//go:build simulator && cgo

package provenance_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-attestation/attest"
	"github.com/google/go-tpm/tpm2"

	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/provenance/internal/provtest"
	"github.com/attest-build/attest-build/tpm"
)

// TestAttestSimulatorBootLog: the simulator's PCRs 0-9 extended with the
// real Secure Boot run's firmware events (both banks), as the firmware did;
// Attest with --boot-log carries the log. A simulator whose PCRs the
// firmware never extended records it absent, naming the PCR.
func TestAttestSimulatorBootLog(t *testing.T) {
	logPath := filepath.Join("..", "bootlog", "testdata", "ovmf-sb-shim", "binary_bios_measurements")
	raw, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	attestWith := func(t *testing.T, extendBoot bool) *predicates.BootLog {
		tp, sel := provtest.OpenSimulator(t, "sha256:0-10+sha1:0-9")
		if extendBoot {
			el, err := attest.ParseEventLog(raw)
			if err != nil {
				t.Fatal(err)
			}
			sha1s, sha256s := el.Events(attest.HashSHA1), el.Events(attest.HashSHA256)
			for i, e := range sha256s {
				if e.Index > 9 || e.Type == 0x03 { // EV_NO_ACTION extends nothing
					continue
				}
				_, err := tpm2.PCRExtend{
					PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(e.Index), Auth: tpm2.PasswordAuth(nil)},
					Digests: tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{
						{HashAlg: tpm2.TPMAlgSHA1, Digest: sha1s[i].Digest}, {HashAlg: tpm2.TPMAlgSHA256, Digest: e.Digest}}},
				}.Execute(tp.Transport())
				if err != nil {
					t.Fatalf("extending PCR %d: %v", e.Index, err)
				}
			}
		}
		signer, _ := provtest.TestSigner(t)
		res, err := provenance.Attest(context.Background(), provenance.Options{
			Command: provenance.Command{Argv: []string{"sh", "-c", "printf x > out.bin"}, Dir: t.TempDir(), Stdout: io.Discard, Stderr: io.Discard},
			Signer:  signer,
			TPM:     provenance.SharedTPM(tp, sel, tpm.AKOptions{}),
			IMALog:  filepath.Join(t.TempDir(), "none"),
			BootLog: logPath,
		})
		if err != nil {
			t.Fatal(err)
		}
		return res.Predicate.BootLog
	}
	t.Run("replays", func(t *testing.T) {
		b := attestWith(t, true)
		sum := sha256.Sum256(raw)
		if b == nil || !b.Present || b.SHA256 != hex.EncodeToString(sum[:]) || b.Events != 46 {
			t.Fatalf("boot log %+v: want carried, sha256 %x, 46 events", b, sum)
		}
	})
	t.Run("PCRs never extended", func(t *testing.T) {
		b := attestWith(t, false)
		if b == nil || b.Present || !strings.Contains(b.Reason, "does not match the end quote") || !strings.Contains(b.Reason, "PCR 0") {
			t.Fatalf("boot log %+v: want absent, the reason naming the first PCR that does not replay", b)
		}
	})
}
