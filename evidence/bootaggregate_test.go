package evidence

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/internal/realtest"
)

// readPCRLines reads "bank index hex" lines (testdata/ima/*.pcrs), "N: hex"
// lines (tsspcrread, one bank) or "PCR-NN: HEX" lines for bank.
func readPCRs(t *testing.T, path string, bank string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	set := func(i int, hx string) {
		v, err := hex.DecodeString(strings.ToLower(strings.TrimSpace(hx)))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for len(out) <= i {
			out = append(out, nil)
		}
		out[i] = v
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		switch {
		case len(fs) == 3 && fs[0] == bank:
			i, err := strconv.Atoi(fs[1])
			if err == nil {
				set(i, fs[2])
			}
		case len(fs) == 2 && strings.HasSuffix(fs[0], ":"):
			i, err := strconv.Atoi(strings.TrimSuffix(fs[0], ":"))
			if err == nil {
				set(i, fs[1])
			}
		}
	}
	return out
}

func firstEntry(t *testing.T, path string) *Entry {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	e, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestBootAggregateRealLogs: the boot_aggregate of real kernels' logs is
// the hash of the PCRs read on the same boot (sha256: PCRs 0-9).
func TestBootAggregateRealLogs(t *testing.T) {
	cases := []struct{ log, pcrs, bank string }{
		{"../testdata/ima/vm-debian12-swtpm.bin", "../testdata/ima/vm-debian12-swtpm.pcrs", "sha256"},
	}
	for _, tc := range cases {
		t.Run(filepath.Base(tc.log), func(t *testing.T) {
			e := firstEntry(t, tc.log)
			pcrs := readPCRs(t, tc.pcrs, tc.bank)
			compared, err := CheckBootAggregate(e, func(b Bank) [][]byte {
				if b.String() == tc.bank {
					return pcrs
				}
				return nil
			})
			if err != nil || !compared {
				t.Fatalf("compared %t, %v", compared, err)
			}
			// One PCR changed: refused, naming both values.
			bad := make([][]byte, len(pcrs))
			copy(bad, pcrs)
			bad[9] = bytes.Repeat([]byte{1}, 32)
			_, err = CheckBootAggregate(e, func(Bank) [][]byte { return bad })
			var be *BootAggregateError
			if !errors.As(err, &be) || !errors.Is(err, ErrBootAggregate) {
				t.Fatalf("PCR 9 changed: err = %v", err)
			}
		})
	}
}

// TestBootAggregateUEFI: logs of real measured boots (OVMF, shim, SeaBIOS)
// with the PCRs of both banks read on the same boot.
func TestBootAggregateUEFI(t *testing.T) {
	dir := filepath.Dir(realtest.RealData(t, "uefi"))
	for _, boot := range []string{"ovmf", "ovmf-sb-shim", "seabios"} {
		t.Run(boot, func(t *testing.T) {
			e := firstEntry(t, filepath.Join(dir, "uefi", boot, "binary_runtime_measurements"))
			pcrs := map[string][][]byte{}
			for _, b := range []string{"sha1", "sha256"} {
				pcrs[b] = readPCRs(t, filepath.Join(dir, "uefi", boot, "pcrs.txt"), b)
			}
			compared, err := CheckBootAggregate(e, func(b Bank) [][]byte { return pcrs[b.String()] })
			if err != nil || !compared {
				t.Fatalf("%s: compared %t, %v", e.FileDigestAlg, compared, err)
			}
		})
	}
}

// TestBootAggregateRules: the sha1 aggregate covers PCRs 0-7, the others 0-9.
func TestBootAggregateRules(t *testing.T) {
	for _, b := range Banks() {
		pcrs := make([][]byte, 10)
		for i := range pcrs {
			pcrs[i] = bytes.Repeat([]byte{byte(i)}, b.Size())
		}
		var in []byte
		for _, v := range pcrs[:BootAggregatePCRs(b)] {
			in = append(in, v...)
		}
		want := b.sum(nil, in)
		got, err := BootAggregate(b, pcrs)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %x, %v; want %x", b, got, err, want)
		}
		if _, err := BootAggregate(b, pcrs[:BootAggregatePCRs(b)-1]); err == nil {
			t.Errorf("%s: too few PCRs accepted", b)
		}
	}
	if BootAggregatePCRs(SHA1) != 8 || BootAggregatePCRs(SHA256) != 10 {
		t.Fatal("PCR counts")
	}
	// Not a boot_aggregate.
	for name, e := range map[string]*Entry{
		"second entry": {Index: 1, PCR: 10, Path: BootAggregateName, FileDigestAlg: "sha256"},
		"other path":   {PCR: 10, Path: "/init", FileDigestAlg: "sha256"},
		"other PCR":    {PCR: 11, Path: BootAggregateName, FileDigestAlg: "sha256"},
		"violation":    {PCR: 10, Path: BootAggregateName, FileDigestAlg: "sha256", TemplateHash: make([]byte, 20)},
	} {
		if _, err := CheckBootAggregate(e, func(Bank) [][]byte { return nil }); !errors.Is(err, ErrBootAggregate) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}
