package evidence

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/internal/realtest"
)

// seedFuzz adds the repository's real logs (testdata/ima) and, when present,
// the shared real logs of the given names (their licenses keep them out of
// the repository).
func seedFuzz(f *testing.F, own []string, shared ...string) {
	for _, o := range own {
		f.Add(readFile(f, testdataPath(f, o)))
	}
	for _, s := range shared {
		if p, ok := realtest.FindRealData(s); ok {
			f.Add(readFile(f, p))
		}
	}
}

// fuzzRead reads every entry: it must never panic, and every failure of a
// plain (not gzip or zstd) input must be a *ParseError; printing, hashing and
// replaying each entry must not panic either.
func fuzzRead(t *testing.T, data []byte) {
	r, err := NewReader(bytesReader(data), WithMaxRecordSize(1<<20))
	if err != nil {
		return // a bad gzip header or zstd option
	}
	for i := 0; i < 10000; i++ {
		e, err := r.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) && r.Compressed() {
				return // errors of the gzip or zstd stream itself
			}
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			return
		}
		checkDecoded(t, e)
		_ = e.Violation()
		_ = e.TemplateDigest(SHA256)
		_ = e.AppendASCII(nil)
		rp := NewReplayer(SHA1, e.PCR)
		_ = rp.Extend(e)
	}
}

// fuzzBuffered reads a binary input with both framings of a record (a copy
// of a record the read buffer holds, and field by field): the entries and
// the error that ends reading must be the same.
func fuzzBuffered(t *testing.T, data []byte) {
	read := func(fieldByField bool) ([]Entry, string) {
		r, err := NewReader(bytesReader(data), WithMaxRecordSize(1<<20))
		if err != nil || r.Format() != FormatBinary || r.Compressed() {
			return nil, "not read"
		}
		r.fieldByField = fieldByField
		var es []Entry
		for range 10000 {
			e, err := r.Next()
			if err != nil {
				return es, err.Error()
			}
			e.raw = nil
			es = append(es, *e)
		}
		return es, "10000 entries"
	}
	fast, fastErr := read(false)
	slow, slowErr := read(true)
	if fastErr != slowErr {
		t.Fatalf("buffered read ends with %q, field by field with %q", fastErr, slowErr)
	}
	if !reflect.DeepEqual(fast, slow) {
		for i := range min(len(fast), len(slow)) {
			if !reflect.DeepEqual(fast[i], slow[i]) {
				t.Fatalf("entry %d: buffered read gives %+v, field by field %+v", i, fast[i], slow[i])
			}
		}
		t.Fatalf("buffered read gives %d entries, field by field %d", len(fast), len(slow))
	}
}

// fuzzWorkers replays an input on the calling goroutine and on three
// hashing workers (which decode the template data the reader only frames):
// the results, or the errors, must be the same.
func fuzzWorkers(t *testing.T, data []byte) {
	replay := func(workers int) (*Result, string) {
		r, err := NewReader(bytesReader(data), WithMaxRecordSize(1<<20), WithMaxEntries(10000))
		if err != nil {
			return nil, err.Error()
		}
		res, err := Replay(r, SHA256, 10, WithWorkers(workers))
		if err != nil {
			return nil, err.Error()
		}
		return res, ""
	}
	one, oneErr := replay(1)
	three, threeErr := replay(3)
	if oneErr != threeErr {
		t.Fatalf("replay on one goroutine fails with %q, on three workers with %q", oneErr, threeErr)
	}
	if !reflect.DeepEqual(one, three) {
		t.Fatalf("replay on one goroutine gives %+v, on three workers %+v", one, three)
	}
}

func FuzzBinaryReader(f *testing.F) {
	seedFuzz(f, []string{"vm-debian12-swtpm.bin",
		"tpm2-tss/sml-ima-sha1.bin", "tpm2-tss/sml-ima-ng-sha1.bin", "tpm2-tss/sml-ima-sig-sha256.bin",
		"tpm2-tss/sml-ima-sig-sha256-invalidated.bin"}, "ima/global-trust-authority/ima.bin")
	own := readFile(f, testdataPath(f, "vm-debian12-swtpm.bin"))
	f.Add(gz(f, own))
	f.Add(zstdOf(f, own))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRead(t, data)
		fuzzBuffered(t, data)
		fuzzWorkers(t, data)
	})
}

func FuzzASCIIReader(f *testing.F) {
	seedFuzz(f, []string{"vm-debian12-swtpm.ascii", "rust-keylime/ascii_runtime_measurements"},
		"ima/global-trust-authority/ima.log",
		"ima/ima-evm-utils/sample-ascii_runtime_measurements-pcrs-8-9")
	f.Fuzz(fuzzRead)
}

func bytesReader(b []byte) io.Reader { return &sliceReader{b: b} }

type sliceReader struct{ b []byte }

func (s *sliceReader) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.b)
	s.b = s.b[n:]
	return n, nil
}

// FuzzMatchPrefixes: the prefix search under every reader option (byte
// order, per-bank template hash size) and bank. It never panics; the
// all-zero start value is matched by the entries before the first entry of
// PCR 10 (the ambiguity rule: entries of other PCRs leave the value as it
// is, and the longest such prefix is returned); every count it returns
// replays, on a fresh reader, to the value it was asked for; failures are
// parse, template hash or no-match errors.
func FuzzMatchPrefixes(f *testing.F) {
	log := readFile(f, testdataPath(f, "vm-debian12-swtpm.bin"))
	es, err := readAll(f, log)
	if err != nil {
		f.Fatal(err)
	}
	rp := NewReplayer(SHA256, 10)
	for _, e := range es[:5] {
		if err := rp.Extend(e); err != nil {
			f.Fatal(err)
		}
	}
	f.Add(log, uint8(1<<1), rp.Value()) // sha256, after 5 entries
	f.Add(log, uint8(0), []byte{})
	f.Add(log, uint8(1|1<<1|1<<3), []byte{}) // big-endian, per-bank sha256 log
	f.Fuzz(func(t *testing.T, data []byte, flags uint8, want []byte) {
		bank := banks[(flags>>1)&3]
		opts := []Option{WithMaxRecordSize(1 << 20), WithMaxEntries(10000)}
		if flags&1 != 0 {
			opts = append(opts, WithBigEndian())
		}
		if flags&(1<<3) != 0 {
			opts = append(opts, WithPerBankLog(bank))
		}
		r, err := NewReader(bytesReader(data), opts...)
		if err != nil {
			return
		}
		w := make([]byte, bank.Size())
		copy(w, want)
		wants := [][]byte{make([]byte, bank.Size()), w}
		counts, err := MatchPrefixes(r, bank, 10, wants)
		if err != nil {
			var pe *ParseError
			var the *TemplateHashError
			if !errors.As(err, &pe) && !errors.As(err, &the) && !errors.Is(err, ErrNoPrefixMatch) && !r.Compressed() {
				t.Fatalf("MatchPrefixes: %v (%T)", err, err)
			}
			if !errors.Is(err, ErrNoPrefixMatch) {
				return
			}
		}
		lead := 0 // entries before the first of PCR 10
		if r, err := NewReader(bytesReader(data), opts...); err == nil {
			for {
				e, err := r.Next()
				if err != nil || e.PCR == 10 {
					break
				}
				lead++
			}
		}
		if counts[0] != lead {
			t.Fatalf("the zero start value matched after %d entries, want the %d before the first entry of PCR 10", counts[0], lead)
		}
		for i, n := range counts {
			if n < 0 {
				continue
			}
			r, err := NewReader(bytesReader(data), opts...)
			if err != nil {
				t.Fatal(err)
			}
			rp := NewReplayer(bank, 10)
			for range n {
				e, err := r.Next()
				if err != nil {
					t.Fatalf("entry of the %d matched: %v", n, err)
				}
				if e.PCR == 10 {
					if err := rp.Extend(e); err != nil {
						t.Fatal(err)
					}
				}
			}
			if !bytes.Equal(rp.Value(), wants[i]) {
				t.Fatalf("value %d matched after %d entries, but they replay to %x, not %x", i, n, rp.Value(), wants[i])
			}
		}
	})
}

// checkDecoded checks the content rules on an entry the reader accepted:
// a path never holds a NUL, and a file digest has its algorithm's size.
func checkDecoded(t *testing.T, e *Entry) {
	t.Helper()
	if strings.IndexByte(e.Path, 0) >= 0 {
		t.Fatalf("entry %d: path %q holds a NUL", e.Index, e.Path)
	}
	ids, known := TemplateFields(e.TemplateName)
	if !known {
		if e.Path != "" || e.FileDigest != nil {
			t.Fatalf("entry %d of undecoded template %q has a path or digest", e.Index, e.TemplateName)
		}
		return
	}
	if len(ids) != len(e.Fields) {
		t.Fatalf("entry %d: %d fields for template %q (%v)", e.Index, len(e.Fields), e.TemplateName, ids)
	}
	if e.FileDigest != nil && len(e.FileDigest) != hashAlgSizes[e.FileDigestAlg] {
		t.Fatalf("entry %d: %s digest of %d bytes", e.Index, e.FileDigestAlg, len(e.FileDigest))
	}
}
