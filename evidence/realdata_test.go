package evidence

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/internal/realtest"
)

// testdataPath returns a file of the repository's testdata/ima.
func testdataPath(t testing.TB, name string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "ima", name)
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newReader(t testing.TB, b []byte, opts ...Option) *Reader {
	t.Helper()
	r, err := NewReader(bytes.NewReader(b), opts...)
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	return r
}

// readAll returns every entry, and the error that ended reading (nil at a
// clean end).
func readAll(t testing.TB, b []byte, opts ...Option) ([]*Entry, error) {
	t.Helper()
	r := newReader(t, b, opts...)
	var out []*Entry
	for {
		e, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
}

// sysfsPCRs parses vm-debian12-swtpm.pcrs ("bank index HEX" lines).
func sysfsPCRs(t testing.TB, path string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, path)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			continue
		}
		v, err := hex.DecodeString(f[2])
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out[f[0]+":"+f[1]] = v
	}
	return out
}

func gz(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zst compresses b with the zstd(1) reference implementation, not the Go
// library the reader decodes with.
func zst(t testing.TB, b []byte) []byte {
	t.Helper()
	realtest.LookPath(t, "zstd", "zstd")
	cmd := exec.Command("zstd", "-q", "-c", "-19")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("zstd: %v", err)
	}
	return out
}

// The real VM log (our own, in testdata) replays to the PCR 10 the kernel
// left in both banks, from its binary, ascii and gzip forms, and from zstd
// forms made by zstd(1) (a subtest of their own: it needs the program).
func TestRealVMLogReplaysToSysfsPCRs(t *testing.T) {
	pcrs := sysfsPCRs(t, testdataPath(t, "vm-debian12-swtpm.pcrs"))
	bin := readFile(t, testdataPath(t, "vm-debian12-swtpm.bin"))
	ascii := readFile(t, testdataPath(t, "vm-debian12-swtpm.ascii"))
	check := func(t *testing.T, forms map[string][]byte) {
		for name, log := range forms {
			for _, bank := range []Bank{SHA1, SHA256} {
				for _, workers := range []int{1, 4} {
					res, err := Replay(newReader(t, log), bank, 10, WithWorkers(workers))
					if err != nil {
						t.Fatalf("%s %s: %v", name, bank, err)
					}
					want := pcrs[bank.String()+":10"]
					if !bytes.Equal(res.Value, want) {
						t.Errorf("%s %s workers=%d: replay %x, sysfs PCR 10 %x", name, bank, workers, res.Value, want)
					}
					if res.Entries != 49 || res.Extended != 49 || res.Violations != 1 || res.Mismatches != 0 {
						t.Errorf("%s %s: entries %d extended %d violations %d mismatches %d, want 49 49 1 0",
							name, bank, res.Entries, res.Extended, res.Violations, res.Mismatches)
					}
				}
			}
		}
	}
	check(t, map[string][]byte{"binary": bin, "ascii": ascii, "gzip-binary": gz(t, bin), "gzip-ascii": gz(t, ascii)})
	t.Run("zstd", func(t *testing.T) {
		check(t, map[string][]byte{"zstd-binary": zst(t, bin), "zstd-ascii": zst(t, ascii)})
	})
}

// ima show of a real binary log equals the kernel's ascii file byte for byte.
func TestShowEqualsKernelASCII(t *testing.T) {
	cases := []struct {
		name       string
		bin, ascii func(t *testing.T) string
	}{
		{"vm-debian12-swtpm", own("vm-debian12-swtpm.bin"), own("vm-debian12-swtpm.ascii")},
		{"embrave", shared("ima/embrave/binary_runtime_measurements"), shared("ima/embrave/ascii_runtime_measurements")},
		{"global-trust-authority", shared("ima/global-trust-authority/ima.bin"), shared("ima/global-trust-authority/ima.log")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bin, ascii := c.bin(t), c.ascii(t)
			var out bytes.Buffer
			if _, err := WriteASCII(&out, newReader(t, readFile(t, bin))); err != nil {
				t.Fatalf("%s: %v", bin, err)
			}
			want := readFile(t, ascii)
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("%s: show differs from %s (%d vs %d bytes)", bin, ascii, out.Len(), len(want))
			}
		})
	}
}

// own names a file of the repository's testdata/ima.
func own(name string) func(t *testing.T) string {
	return func(t *testing.T) string { return testdataPath(t, name) }
}

// shared names a file of ../shared/realdata that may not be copied into the
// repository (its license): the test skips without it (fails under CI).
func shared(rel string) func(t *testing.T) string {
	return func(t *testing.T) string { return realtest.RealData(t, rel) }
}

// The binary and ascii forms of the same real logs give the same entries
// and replay to the same values, with no template hash mismatch.
func TestBinaryAndASCIIFormsAgree(t *testing.T) {
	cases := []struct {
		name       string
		bin, ascii string
		entries    int
		hashSize   int
	}{
		{"embrave", "ima/embrave/binary_runtime_measurements", "ima/embrave/ascii_runtime_measurements", 922, 20},
		{"global-trust-authority per-bank", "ima/global-trust-authority/ima.bin", "ima/global-trust-authority/ima.log", 2, 32},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bin, err := readAll(t, readFile(t, realtest.RealData(t, c.bin)))
			if err != nil {
				t.Fatal(err)
			}
			asc, err := readAll(t, readFile(t, realtest.RealData(t, c.ascii)))
			if err != nil {
				t.Fatal(err)
			}
			if len(bin) != c.entries || len(asc) != c.entries {
				t.Fatalf("entries: binary %d, ascii %d, want %d", len(bin), len(asc), c.entries)
			}
			for i := range bin {
				if !bytes.Equal(bin[i].TemplateData, asc[i].TemplateData) || !bytes.Equal(bin[i].TemplateHash, asc[i].TemplateHash) {
					t.Fatalf("entry %d differs between forms", i)
				}
				if len(bin[i].TemplateHash) != c.hashSize {
					t.Fatalf("entry %d: template hash of %d bytes, want %d", i, len(bin[i].TemplateHash), c.hashSize)
				}
			}
			for _, bank := range Banks() {
				rb, err := Replay(newReader(t, readFile(t, realtest.RealData(t, c.bin))), bank, 10)
				if err != nil {
					t.Fatal(err)
				}
				ra, err := Replay(newReader(t, readFile(t, realtest.RealData(t, c.ascii))), bank, 10)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(rb.Value, ra.Value) || rb.Mismatches != 0 || ra.Mismatches != 0 {
					t.Errorf("%s: binary %x (%d mismatches), ascii %x (%d mismatches)", bank, rb.Value, rb.Mismatches, ra.Value, ra.Mismatches)
				}
			}
		})
	}
}

// tpm2-tss's short real logs decode with matching template hashes; each
// ends with stray bytes, reported as ErrTrailingBytes at the right offset.
func TestTPM2TSSLogs(t *testing.T) {
	cases := []struct {
		file     string
		template string
		entries  int
		stray    int
	}{
		{"tpm2-tss/sml-ima-sha1.bin", "ima", 12, 1},
		{"tpm2-tss/sml-ima-ng-sha1.bin", "ima-ng", 6, 1},
		{"tpm2-tss/sml-ima-sig-sha256.bin", "ima-sig", 9, 6},
	}
	for _, c := range cases {
		t.Run(c.template, func(t *testing.T) {
			log := readFile(t, testdataPath(t, c.file))
			entries, err := readAll(t, log)
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, ErrTrailingBytes) {
				t.Fatalf("got %v, want a *ParseError wrapping ErrTrailingBytes", err)
			}
			if pe.Index != c.entries || pe.Offset != int64(len(log)-c.stray) {
				t.Errorf("error at entry %d offset %d, want entry %d offset %d", pe.Index, pe.Offset, c.entries, len(log)-c.stray)
			}
			if len(entries) != c.entries {
				t.Fatalf("%d entries before the error, want %d", len(entries), c.entries)
			}
			last := entries[len(entries)-1]
			if int64(last.Offset)+int64(last.Len) != pe.Offset {
				t.Errorf("last entry ends at %d, the stray bytes start at %d", last.Offset+int64(last.Len), pe.Offset)
			}
			rp := NewReplayer(SHA1, 10)
			for _, e := range entries {
				if e.TemplateName != c.template {
					t.Errorf("entry %d: template %q, want %q", e.Index, e.TemplateName, c.template)
				}
				if e.Path == "" || len(e.FileDigest) == 0 {
					t.Errorf("entry %d: path %q digest %x not decoded", e.Index, e.Path, e.FileDigest)
				}
				if err := rp.Extend(e); err != nil {
					t.Errorf("entry %d: %v", e.Index, err)
				}
			}
			if c.template == "ima-sig" {
				// These files' signatures are empty: the kernel prints the
				// empty sig field as a trailing space.
				for _, e := range entries {
					if len(e.Fields) != 3 || len(e.Signature) != 0 || !bytes.HasSuffix(e.AppendASCII(nil), []byte(" \n")) {
						t.Errorf("entry %d: %d fields, signature %x, ascii %q", e.Index, len(e.Fields), e.Signature, e.AppendASCII(nil))
					}
				}
			}
		})
	}
}

// Templates this package does not know (ima-cgpath) keep their raw fields
// and still replay with checked template hashes.
func TestUnknownTemplateKeptRaw(t *testing.T) {
	log := readFile(t, realtest.RealData(t, "ima/k8s-pod-attestation/bin_ima"))
	entries, err := readAll(t, log)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2020 {
		t.Fatalf("%d entries, want 2020", len(entries))
	}
	e := entries[0]
	if e.TemplateName != "ima-cgpath" || len(e.Fields) < 3 || e.Path != "" {
		t.Fatalf("entry 0: template %q, %d fields, path %q", e.TemplateName, len(e.Fields), e.Path)
	}
	res, err := Replay(newReader(t, log), SHA256, 10)
	if err != nil || res.Mismatches != 0 || res.Extended != 2020 {
		t.Fatalf("replay: %v, %+v", err, res)
	}
}

// Ascii-only real logs (sha1 file digests) replay without mismatches.
func TestASCIIOnlyLogs(t *testing.T) {
	for _, c := range []struct {
		name string
		path func(t *testing.T) string
	}{
		{"rust-keylime", own("rust-keylime/ascii_runtime_measurements")},
		{"k8s-pod-attestation", shared("ima/k8s-pod-attestation/ima_ng")},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := Replay(newReader(t, readFile(t, c.path(t))), SHA256, 10)
			if err != nil || res.Mismatches != 0 || res.Entries == 0 {
				t.Errorf("%v %+v", err, res)
			}
		})
	}
}

// The prefix matcher finds the entry count of a PCR value taken mid-log,
// for one value and for two in one pass.
func TestMatchPrefixRealLog(t *testing.T) {
	log := readFile(t, realtest.RealData(t, "ima/embrave/binary_runtime_measurements"))
	entries, err := readAll(t, log)
	if err != nil {
		t.Fatal(err)
	}
	for _, bank := range []Bank{SHA1, SHA256} {
		rp := NewReplayer(bank, 10)
		values := map[int][]byte{0: rp.Value()}
		for i, e := range entries {
			if err := rp.Extend(e); err != nil {
				t.Fatal(err)
			}
			values[i+1] = rp.Value()
		}
		for _, k := range []int{0, 1, 300, 921, 922} {
			n, err := MatchPrefix(newReader(t, log), bank, 10, values[k])
			if err != nil || n != k {
				t.Errorf("%s: MatchPrefix(value after %d) = %d, %v", bank, k, n, err)
			}
		}
		ns, err := MatchPrefixes(newReader(t, log), bank, 10, [][]byte{values[500], values[100]})
		if err != nil || len(ns) != 2 || ns[0] != 500 || ns[1] != 100 {
			t.Errorf("%s: MatchPrefixes = %v, %v; want [500 100]", bank, ns, err)
		}
		_, err = MatchPrefix(newReader(t, log), bank, 10, bytes.Repeat([]byte{0xab}, bank.Size()))
		var nm *NoPrefixMatchError
		if !errors.Is(err, ErrNoPrefixMatch) || !errors.As(err, &nm) || nm.Entries != 922 || !bytes.Equal(nm.Final, values[922]) {
			t.Errorf("%s: unmatched value: %v", bank, err)
		}
	}
}
