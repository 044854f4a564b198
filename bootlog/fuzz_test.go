package bootlog

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzVerify parses arbitrary bytes as a firmware event log and, when they
// parse, replays them to the PCR values they give themselves: no panic, and
// a verified Secure Boot state always names an enabled Secure Boot and a
// kernel in PCR 4.
func FuzzVerify(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*/binary_bios_measurements")
	more, _ := filepath.Glob("testdata/go-attestation/*eventlog")
	for _, p := range append(paths, more...) {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrParse) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Parse error %v wraps neither ErrParse nor ErrTooLarge", err)
			}
			return
		}
		pcrs := selfPCRs(l)
		st, err := l.Verify(pcrs)
		if err != nil {
			return
		}
		if sb := st.SecureBoot; sb.Verified && (!sb.Enabled || st.Kernel == nil || st.Kernel.Digest == "") {
			t.Fatalf("Secure Boot verified without being enabled or without a PCR 4 kernel: %+v, kernel %+v", sb, st.Kernel)
		}
		if !st.SecureBoot.Verified && st.SecureBoot.Reason == "" {
			t.Fatalf("Secure Boot not verified and no reason: %+v", st.SecureBoot)
		}
	})
}
