package evidence

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/evidence/internal/imagen"
)

// rec builds one binary record of a length-prefixed template. A zero
// hash is computed (sha1 of the data) unless violation is set.
type rec struct {
	pcr       uint32
	name      string
	fields    [][]byte
	violation bool
	order     binary.AppendByteOrder
}

func (r rec) bytes() []byte {
	order := r.order
	if order == nil {
		order = binary.LittleEndian
	}
	var data []byte
	for _, f := range r.fields {
		data = order.AppendUint32(data, uint32(len(f)))
		data = append(data, f...)
	}
	th := sha1.Sum(data)
	if r.violation {
		th = [20]byte{}
	}
	out := order.AppendUint32(nil, r.pcr)
	out = append(out, th[:]...)
	out = order.AppendUint32(out, uint32(len(r.name)))
	out = append(out, r.name...)
	out = order.AppendUint32(out, uint32(len(data)))
	return append(out, data...)
}

func ngRecord(pcr uint32, path string, digest byte) rec {
	d := append([]byte("sha256:\x00"), bytes.Repeat([]byte{digest}, 32)...)
	return rec{pcr: pcr, name: "ima-ng", fields: [][]byte{d, []byte(path + "\x00")}}
}

func concat(rs ...rec) []byte {
	var out []byte
	for _, r := range rs {
		out = append(out, r.bytes()...)
	}
	return out
}

func extend256(pcr []byte, d []byte) []byte {
	s := sha256.Sum256(append(bytes.Clone(pcr), d...))
	return s[:]
}

// Bad input: each case names its sentinel, entry index and byte offset.
func TestBadInput(t *testing.T) {
	good := concat(ngRecord(10, "/a", 1), ngRecord(10, "/b", 2))
	first := len(ngRecord(10, "/a", 1).bytes())

	hugeName := append(bytes.Clone(good[:first]), binary.LittleEndian.AppendUint32(make([]byte, 24), 0xffffffff)...)
	binary.LittleEndian.PutUint32(hugeName[first:], 10)

	hugeData := bytes.Clone(good)
	binary.LittleEndian.PutUint32(hugeData[first+4+20+4+6:], 0xfffffff0)
	pastEnd := bytes.Clone(good)
	binary.LittleEndian.PutUint32(pastEnd[first+4+20+4+6:], 1<<20) // within the limit, beyond the input

	badField := bytes.Clone(good)
	binary.LittleEndian.PutUint32(badField[first+4+20+4+6+4:], 1000) // first field's length overruns

	bePCR := bytes.Clone(good)
	binary.BigEndian.PutUint32(bePCR, 10)

	// A second record whose template name is n bytes long (the bound is 255).
	nameOf := func(n int) []byte {
		b := binary.LittleEndian.AppendUint32(bytes.Clone(good[:first]), 10)
		b = binary.LittleEndian.AppendUint32(append(b, make([]byte, 20)...), uint32(n))
		return binary.LittleEndian.AppendUint32(append(b, bytes.Repeat([]byte{'x'}, n)...), 0)
	}
	if es, err := readAll(t, nameOf(255)); err != nil || len(es) != 2 || es[1].TemplateName != strings.Repeat("x", 255) {
		t.Errorf("255-byte template name: %d entries, %v", len(es), err)
	}

	cases := []struct {
		name   string
		in     []byte
		opts   []Option
		want   error
		index  int
		offset int64
		field  string
	}{
		{"truncated data", good[:len(good)-5], nil, ErrTruncated, 1, int64(first + 4 + 20 + 4 + 6 + 4), "template_data"},
		{"truncated name", good[:first+4+20+4+3], nil, ErrTruncated, 1, int64(first + 4 + 20 + 4), "template_name"},
		{"trailing bytes", append(bytes.Clone(good), 0, 0, 0), nil, ErrTrailingBytes, 2, int64(len(good)), "record header"},
		{"256-byte name", nameOf(256), nil, ErrLengthTooLarge, 1, int64(first + 24), "template_name_len"},
		{"4 GiB name length", hugeName, nil, ErrLengthTooLarge, 1, int64(first + 24), "template_name_len"},
		{"4 GiB data length", hugeData, nil, ErrLengthTooLarge, 1, int64(first + 34), "template_data_len"},
		{"data length past the end", pastEnd, nil, ErrTruncated, 1, int64(first + 38), "template_data"},
		{"field length overruns", badField, nil, ErrMalformed, 1, int64(first + 38), "template_data field length"},
		{"big-endian PCR", bePCR, nil, ErrMalformed, 0, 0, "pcr"},
		{"too many entries", good, []Option{WithMaxEntries(1)}, ErrTooManyEntries, 1, int64(first), "entry"},
		{"ascii unknown hash size", []byte("10 0011 ima-ng sha256:00 /a\n"), nil, ErrUnknownAlgorithm, 0, 3, "template_hash"},
		{"ascii unknown template", []byte("10 " + hex40 + " ima-cgpath x y\n"), nil, ErrUnknownTemplate, 0, 44, "template_name"},
		{"ascii bad hex", []byte("10 " + hex40 + " ima-ng sha256:zz /a\n"), nil, ErrMalformed, 0, 51, "d-ng"},
		{"ascii field count", []byte("10 " + hex40 + " ima-ng sha256:00\n"), nil, ErrMalformed, 0, 0, "template fields"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := readAll(t, c.in, c.opts...)
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("%v is not a *ParseError", err)
			}
			if pe.Index != c.index || pe.Offset != c.offset || pe.Field != c.field {
				t.Errorf("entry %d offset %d field %q, want %d %d %q", pe.Index, pe.Offset, pe.Field, c.index, c.offset, c.field)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 2<<20 {
				t.Errorf("reading %d bytes allocated %d bytes", len(c.in), grew)
			}
		})
	}
	if _, err := NewReader(bytes.NewReader(good), WithTemplateHashSize(33)); !errors.Is(err, ErrUnknownAlgorithm) {
		t.Errorf("WithTemplateHashSize(33): %v", err)
	}
	if _, err := ParseBank("md5"); !errors.Is(err, ErrUnknownAlgorithm) {
		t.Errorf("ParseBank(md5): %v", err)
	}
}

// TestASCIIErrorChain: the ascii reader's errors keep the decoder's error
// in the chain beside ErrMalformed.
func TestASCIIErrorChain(t *testing.T) {
	for _, c := range []struct {
		name string
		in   string
		as   func(error) bool
	}{
		{"template hash hex", "10 zz" + hex40[2:] + " ima-ng sha256:00 /a\n", func(err error) bool { var e hex.InvalidByteError; return errors.As(err, &e) }},
		{"digest hex", "10 " + hex40 + " ima sha1:zz /a\n", func(err error) bool { var e hex.InvalidByteError; return errors.As(err, &e) }},
		{"d-ng hex", "10 " + hex40 + " ima-ng sha256:zz /a\n", func(err error) bool { var e hex.InvalidByteError; return errors.As(err, &e) }},
		{"uint", "10 " + hex40 + " d-ng|n-ng|iuid sha256:00 /a x\n", func(err error) bool { return errors.Is(err, strconv.ErrSyntax) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := readAll(t, []byte(c.in))
			if !errors.Is(err, ErrMalformed) || !c.as(err) {
				t.Errorf("err = %v: want ErrMalformed with the decoder's error in the chain", err)
			}
		})
	}
}

// TestBanksCopy: Banks returns a copy; changing it changes nothing.
func TestBanksCopy(t *testing.T) {
	b := Banks()
	b[0] = 0x1234
	if got := Banks(); got[0] != SHA1 || len(got) != 4 {
		t.Errorf("Banks() = %v after changing a returned slice", got)
	}
	if _, err := ParseBank("sha1"); err != nil {
		t.Errorf("ParseBank(sha1) after changing a returned slice: %v", err)
	}
}

const hex40 = "0123456789abcdef0123456789abcdef01234567"

// A template hash that disagrees with the template data is reported with
// the entry's index; Replay counts it and goes on; MatchPrefix refuses.
func TestTemplateHashMismatch(t *testing.T) {
	rs := []rec{ngRecord(10, "/a", 1), ngRecord(10, "/b", 2), ngRecord(10, "/c", 3)}
	log := concat(rs...)
	// Change the file digest of entry 1 after its hash was computed.
	tampered := bytes.Clone(log)
	off := len(rs[0].bytes()) + 4 + 20 + 4 + 6 + 4 + 4 + 8
	tampered[off] ^= 0xff

	entries, err := readAll(t, tampered)
	if err != nil {
		t.Fatal(err)
	}
	rp := NewReplayer(SHA256, 10)
	var errs []error
	for _, e := range entries {
		errs = append(errs, rp.Extend(e))
	}
	var he *TemplateHashError
	if errs[0] != nil || errs[2] != nil || !errors.As(errs[1], &he) || !errors.Is(errs[1], ErrTemplateHashMismatch) || he.Index != 1 {
		t.Fatalf("Extend errors %v", errs)
	}
	if !bytes.Equal(he.Logged, entries[1].TemplateHash) || !bytes.Equal(he.Computed, entries[1].TemplateDigest(SHA1)) {
		t.Errorf("error carries logged %x computed %x", he.Logged, he.Computed)
	}
	for _, workers := range []int{1, 3} {
		res, err := Replay(newReader(t, tampered), SHA256, 10, WithWorkers(workers))
		if err != nil || res.Mismatches != 1 || len(res.MismatchIndices) != 1 || res.MismatchIndices[0] != 1 || !bytes.Equal(res.Value, rp.Value()) {
			t.Errorf("workers=%d: %v %+v", workers, err, res)
		}
	}
	if _, err := MatchPrefix(newReader(t, tampered), SHA256, 10, rp.Value()); !errors.As(err, &he) || he.Index != 1 {
		t.Errorf("MatchPrefix over a mismatch: %v", err)
	}
}

// Replay rules: sha256 extends the bank's hash of the template data,
// violations extend all 0xff, the padded rule extends sha1 zero-padded.
func TestReplayRules(t *testing.T) {
	rs := []rec{ngRecord(10, "/a", 1), {pcr: 10, name: "ima-ng", fields: ngRecord(10, "/v", 0).fields, violation: true}, ngRecord(10, "/c", 3)}
	log := concat(rs...)
	entries, err := readAll(t, log)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 32)
	padded := make([]byte, 32)
	for i, e := range entries {
		data := e.TemplateData
		d := sha256.Sum256(data)
		s := sha1.Sum(data)
		dig, pad := d[:], append(s[:], make([]byte, 12)...)
		if i == 1 {
			dig = bytes.Repeat([]byte{0xff}, 32)
			pad = dig
			if !e.Violation() {
				t.Fatal("entry 1 is not a violation")
			}
		}
		want = extend256(want, dig)
		padded = extend256(padded, pad)
	}
	res, err := Replay(newReader(t, log), SHA256, 10)
	if err != nil || !bytes.Equal(res.Value, want) || res.Violations != 1 {
		t.Errorf("5.8 rule: %v %+v, want %x", err, res, want)
	}
	res, err = Replay(newReader(t, log), SHA256, 10, WithPaddedSHA1Rule())
	if err != nil || !bytes.Equal(res.Value, padded) {
		t.Errorf("padded rule: %v %+v, want %x", err, res, padded)
	}
	init := bytes.Repeat([]byte{7}, 32)
	res, err = Replay(newReader(t, log), SHA256, 10, WithInitialValue(init))
	if err != nil || bytes.Equal(res.Value, want) {
		t.Errorf("WithInitialValue ignored: %v %+v", err, res)
	}
	if _, err := Replay(newReader(t, log), SHA256, 10, WithInitialValue(init[:5])); !errors.Is(err, ErrDigestSize) {
		t.Errorf("short initial value: %v", err)
	}
}

// Prefix ambiguity: entries of other PCRs leave PCR 10 unchanged; the
// matcher returns the longest prefix before the next PCR 10 entry.
func TestMatchPrefixAmbiguity(t *testing.T) {
	// 0: pcr 11, 1: pcr 10 (A), 2: pcr 11, 3: pcr 11, 4: pcr 10 (B), 5: pcr 11
	rs := []rec{ngRecord(11, "/x", 9), ngRecord(10, "/a", 1), ngRecord(11, "/y", 8), ngRecord(11, "/z", 7), ngRecord(10, "/b", 2), ngRecord(11, "/w", 6)}
	log := concat(rs...)
	entries, _ := readAll(t, log)
	zero := make([]byte, 32)
	afterA := extend256(zero, entries[1].TemplateDigest(SHA256))
	afterB := extend256(afterA, entries[4].TemplateDigest(SHA256))
	cases := []struct {
		name string
		want []byte
		n    int
	}{
		{"initial value: before the first PCR 10 entry", zero, 1},
		{"after A: over the two PCR 11 entries", afterA, 4},
		{"after B: to the end", afterB, 6},
	}
	for _, c := range cases {
		for _, workers := range []int{1, 2} {
			n, err := MatchPrefix(newReader(t, log), SHA256, 10, c.want, WithWorkers(workers))
			if err != nil || n != c.n {
				t.Errorf("%s (workers=%d): %d, %v; want %d", c.name, workers, n, err, c.n)
			}
		}
	}
	ns, err := MatchPrefixes(newReader(t, log), SHA256, 10, [][]byte{afterB, afterA, bytes.Repeat([]byte{1}, 32)})
	if !errors.Is(err, ErrNoPrefixMatch) || len(ns) != 3 || ns[0] != 6 || ns[1] != 4 || ns[2] != -1 {
		t.Errorf("MatchPrefixes: %v, %v", ns, err)
	}
	if _, err := MatchPrefix(newReader(t, log), SHA256, 10, zero[:20]); !errors.Is(err, ErrDigestSize) {
		t.Errorf("sha1-sized value for sha256: %v", err)
	}
}

// Entry offsets and lengths let a caller cut the exact bytes of the first N
// entries.
func TestEntryOffsets(t *testing.T) {
	log := readFile(t, testdataPath(t, "vm-debian12-swtpm.bin"))
	entries, err := readAll(t, log)
	if err != nil {
		t.Fatal(err)
	}
	var next int64
	for _, e := range entries {
		if e.Offset != next {
			t.Fatalf("entry %d at %d, previous ended at %d", e.Index, e.Offset, next)
		}
		next = e.Offset + int64(e.Len)
	}
	if next != int64(len(log)) {
		t.Fatalf("entries end at %d of %d bytes", next, len(log))
	}
	cut := log[:entries[20].Offset]
	res, err := Replay(newReader(t, cut), SHA256, 10)
	if err != nil || res.Entries != 20 {
		t.Fatalf("cut log: %v %+v", err, res)
	}
	n, err := MatchPrefix(newReader(t, log), SHA256, 10, res.Value)
	if err != nil || n != 20 {
		t.Errorf("MatchPrefix of the cut log's value: %d %v", n, err)
	}
}

// Big-endian logs (no ima_canonical_fmt on a big-endian kernel) read with
// WithBigEndian; read as little-endian they fail with a hint.
func TestBigEndian(t *testing.T) {
	r := ngRecord(10, "/a", 1)
	r.order = binary.BigEndian
	log := r.bytes()
	_, err := readAll(t, log)
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("as little-endian: %v", err)
	}
	res, err := Replay(newReader(t, log, WithBigEndian()), SHA256, 10)
	if err != nil || res.Mismatches != 0 || res.Entries != 1 {
		t.Fatalf("WithBigEndian: %v %+v", err, res)
	}
}

// Per-bank logs: the template hash size is detected, or given.
func TestPerBankLog(t *testing.T) {
	r := ngRecord(10, "/a", 1)
	var data []byte
	for _, f := range r.fields {
		data = binary.LittleEndian.AppendUint32(data, uint32(len(f)))
		data = append(data, f...)
	}
	th := sha256.Sum256(data)
	log := binary.LittleEndian.AppendUint32(nil, 10)
	log = append(log, th[:]...)
	log = binary.LittleEndian.AppendUint32(log, 6)
	log = append(log, "ima-ng"...)
	log = binary.LittleEndian.AppendUint32(log, uint32(len(data)))
	log = append(log, data...)
	for _, opts := range [][]Option{nil, {WithPerBankLog(SHA256)}} {
		es, err := readAll(t, log, opts...)
		if err != nil || len(es) != 1 || len(es[0].TemplateHash) != 32 || es[0].Path != "/a" {
			t.Fatalf("opts %d: %v %+v", len(opts), err, es)
		}
		res, err := Replay(newReader(t, log, opts...), SHA256, 10)
		if err != nil || res.Mismatches != 0 || !bytes.Equal(res.Value, extend256(make([]byte, 32), th[:])) {
			t.Fatalf("replay: %v %+v", err, res)
		}
	}
}

func TestBank(t *testing.T) {
	for _, c := range []struct {
		name string
		bank Bank
		size int
	}{{"sha1", SHA1, 20}, {"sha256", SHA256, 32}, {"sha384", SHA384, 48}, {"sha512", SHA512, 64}} {
		b, err := ParseBank(c.name)
		if err != nil || b != c.bank || b.String() != c.name || b.Size() != c.size || b.New().Size() != c.size {
			t.Errorf("%s: %v %v %d", c.name, b, err, b.Size())
		}
	}
}

// TestReplayEntries: the streaming replay visits every entry in order with
// the value a sequential Replayer reaches after it, on one worker or
// several; paths are decoded from WithPathsFrom's index only; a template
// hash mismatch is reported for its entry; visit can stop early; a parse
// error comes after the entries before it.
func TestReplayEntries(t *testing.T) {
	var rs []rec
	for i := range 1500 { // several batches
		pcr := uint32(10)
		if i%97 == 5 {
			pcr = 11
		}
		r := ngRecord(pcr, fmt.Sprintf("/p/%d", i), byte(i))
		r.violation = i%211 == 7
		rs = append(rs, r)
	}
	log := concat(rs...)
	bad := bytes.Clone(log)
	badIndex := 1234
	second := int64(0)
	{
		r, _ := NewReader(bytes.NewReader(log))
		for range badIndex + 1 {
			e, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			second = e.Offset + int64(e.Len) - 3
		}
	}
	bad[second] ^= 1 // in the path of entry badIndex: its template hash no longer matches

	for _, workers := range []int{1, 3} {
		t.Run(fmt.Sprintf("workers %d", workers), func(t *testing.T) {
			seq := NewReplayer(SHA256, 10)
			want := [][]byte{}
			r, _ := NewReader(bytes.NewReader(bad))
			for {
				e, err := r.Next()
				if err != nil {
					break
				}
				seq.Extend(e)
				want = append(want, seq.Value())
			}
			r, _ = NewReader(bytes.NewReader(bad))
			n, mismatches := 0, 0
			err := ReplayEntries(r, SHA256, 10, func(e *Entry, value []byte, herr error) bool {
				if e.Index != n || !bytes.Equal(value, want[n]) {
					t.Fatalf("entry %d (index %d): value %x, want %x", n, e.Index, value, want[n])
				}
				// Entry 0's path is always decoded (a log's boot_aggregate).
				if wantPath := fmt.Sprintf("/p/%d", n); (n >= 1000 || n == 0) != (e.Path != "") || (n >= 1000 && n != badIndex && e.Path != wantPath) {
					t.Fatalf("entry %d: path %q, want it only for entry 0 and from 1000", n, e.Path)
				}
				var the *TemplateHashError
				if herr != nil {
					mismatches++
					if !errors.As(herr, &the) || the.Index != badIndex || n != badIndex {
						t.Fatalf("entry %d: template hash error %v, want one for entry %d", n, herr, badIndex)
					}
				}
				n++
				return true
			}, WithWorkers(workers), WithPathsFrom(1000))
			if err != nil || n != len(rs) || mismatches != 1 {
				t.Fatalf("ReplayEntries: err %v, %d entries visited (want %d), %d mismatches (want 1)", err, n, len(rs), mismatches)
			}

			r, _ = NewReader(bytes.NewReader(log))
			n = 0
			if err := ReplayEntries(r, SHA256, 10, func(e *Entry, _ []byte, _ error) bool { n++; return n < 700 }, WithWorkers(workers)); err != nil || n != 700 {
				t.Fatalf("stopping at 700: err %v, %d visited", err, n)
			}

			r, _ = NewReader(bytes.NewReader(log[:len(log)-5]))
			n = 0
			err = ReplayEntries(r, SHA256, 10, func(e *Entry, _ []byte, _ error) bool { n++; return true }, WithWorkers(workers))
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Index != len(rs)-1 || n != len(rs)-1 {
				t.Fatalf("truncated log: err %v after %d entries, want a *ParseError for entry %d after %d", err, n, len(rs)-1, len(rs)-1)
			}

			// A field that breaks its content rule (entry badIndex's path
			// loses its NUL; the workers decode it): the entries before it
			// are visited, then the reader's *ParseError for it.
			malformed := bytes.Clone(log)
			malformed[second+2] = 'x'
			r, _ = NewReader(bytes.NewReader(malformed))
			n = 0
			err = ReplayEntries(r, SHA256, 10, func(e *Entry, _ []byte, _ error) bool { n++; return true }, WithWorkers(workers))
			if !errors.As(err, &pe) || pe.Index != badIndex || pe.Field != "n-ng" || !errors.Is(err, ErrMalformed) || n != badIndex {
				t.Fatalf("malformed path: err %v after %d entries, want ErrMalformed in n-ng of entry %d after %d", err, n, badIndex, badIndex)
			}
			if _, nerr := readAll(t, malformed); nerr == nil || nerr.Error() != err.Error() {
				t.Fatalf("malformed path: replay fails with %v, Next with %v", err, nerr)
			}
		})
	}
}

// TestReplayReusesBatches replays a log of many more entries than the
// batches in flight hold (so every batch is read, hashed, extended and
// freed many times), on one to four goroutines, to the generator's value,
// and stops early without waiting for the rest of the log.
func TestReplayReusesBatches(t *testing.T) {
	var buf bytes.Buffer
	pcrs, err := imagen.Write(&buf, imagen.Options{Entries: 30000, Seed: 2, ViolationEvery: 997})
	if err != nil {
		t.Fatal(err)
	}
	log := buf.Bytes()
	for workers := 1; workers <= 4; workers++ {
		res, err := Replay(newReader(t, log), SHA256, 10, WithWorkers(workers))
		if err != nil || !bytes.Equal(res.Value, pcrs.SHA256[:]) || res.Entries != 30000 || res.Mismatches != 0 {
			t.Fatalf("workers %d: %+v, %v; want %x after 30000 entries", workers, res, err, pcrs.SHA256)
		}
		for _, stop := range []int{1, batchSize - 1, batchSize, batchSize + 1, 5000, 29999} {
			n := 0
			r := newReader(t, log)
			err := ReplayEntries(r, SHA256, 10, func(*Entry, []byte, error) bool { n++; return n < stop }, WithWorkers(workers))
			if err != nil || n != stop {
				t.Fatalf("workers %d, stop at %d: %d visited, %v", workers, stop, n, err)
			}
			// The workers read ahead; what Next reads after them is decoded
			// as ever (the replay's deferred decoding ends with it).
			if e, err := r.Next(); err == nil && (len(e.Fields) != 2 || e.FileDigestAlg == "" || e.Path == "") {
				t.Fatalf("workers %d, stop at %d: Next after the replay gives entry %d undecoded: %+v", workers, stop, e.Index, e)
			}
		}
	}
}

// A log cut at a baseline's position replays from the baseline's PCR value
// (WithInitialValue) to the whole log's value, its entries numbered from
// the position (WithFirstIndex); WithMaxEntries counts the entries read.
func TestReplayFromPosition(t *testing.T) {
	log := readFile(t, testdataPath(t, "vm-debian12-swtpm.bin"))
	entries, err := readAll(t, log)
	if err != nil {
		t.Fatal(err)
	}
	const at = 20
	whole, err := Replay(newReader(t, log), SHA256, 10)
	if err != nil {
		t.Fatal(err)
	}
	base, err := Replay(newReader(t, log[:entries[at].Offset]), SHA256, 10)
	if err != nil {
		t.Fatal(err)
	}
	rest := log[entries[at].Offset:]
	r, err := NewReader(bytes.NewReader(rest), WithFirstIndex(at))
	if err != nil {
		t.Fatal(err)
	}
	var indexes []int
	err = ReplayEntries(r, SHA256, 10, func(e *Entry, value []byte, herr error) bool {
		indexes = append(indexes, e.Index)
		return herr == nil
	}, WithInitialValue(base.Value))
	if err != nil {
		t.Fatal(err)
	}
	if len(indexes) != len(entries)-at || indexes[0] != at || indexes[len(indexes)-1] != len(entries)-1 {
		t.Fatalf("indexes %v, want %d to %d", indexes, at, len(entries)-1)
	}
	r, _ = NewReader(bytes.NewReader(rest), WithFirstIndex(at))
	res, err := Replay(r, SHA256, 10, WithInitialValue(base.Value))
	if err != nil || !bytes.Equal(res.Value, whole.Value) {
		t.Fatalf("replay from the position: %x, %v; want %x", res.Value, err, whole.Value)
	}
	r, _ = NewReader(bytes.NewReader(rest), WithFirstIndex(at), WithMaxEntries(len(entries)-at))
	if _, err := Replay(r, SHA256, 10, WithInitialValue(base.Value)); err != nil {
		t.Fatalf("max entries counts entries read: %v", err)
	}
	r, _ = NewReader(bytes.NewReader(rest), WithFirstIndex(at), WithMaxEntries(len(entries)-at-1))
	if _, err := Replay(r, SHA256, 10, WithInitialValue(base.Value)); !errors.Is(err, ErrTooManyEntries) {
		t.Fatalf("one entry over the limit: %v", err)
	}
	if _, err := NewReader(bytes.NewReader(rest), WithFirstIndex(-1)); err == nil {
		t.Fatal("a negative first index is accepted")
	}
}

// TestReplayCounts: Replay's counts (entries, extended, violations,
// mismatches and the first MaxMismatchIndices of them, in log order) and
// value are the same on the calling goroutine and on several workers,
// which count their own batches, for a log mixing other PCRs' entries,
// violations and template hash mismatches over many batches; each count is
// the one the log was built with, and the value that of Replayer.Extend.
func TestReplayCounts(t *testing.T) {
	var log []byte
	var want Result
	for i := range 2500 {
		r := ngRecord(10, fmt.Sprintf("/f%d", i), byte(i))
		tamper := false
		switch {
		case i%7 == 3:
			r.pcr = 11
		case i%17 == 9:
			r.violation = true
			want.Violations++
		case i%13 == 5:
			tamper = true
			want.Mismatches++
			if len(want.MismatchIndices) < MaxMismatchIndices {
				want.MismatchIndices = append(want.MismatchIndices, i)
			}
		}
		b := r.bytes()
		if tamper {
			b[4] ^= 0xff // the logged template hash
		}
		if r.pcr == 10 {
			want.Extended++
		}
		log = append(log, b...)
	}
	want.Entries = 2500
	if want.Mismatches <= MaxMismatchIndices {
		t.Fatalf("the log has %d mismatches, not more than MaxMismatchIndices", want.Mismatches)
	}
	entries, err := readAll(t, log)
	if err != nil {
		t.Fatal(err)
	}
	rp := NewReplayer(SHA256, 10)
	for _, e := range entries {
		rp.Extend(e)
	}
	for _, workers := range []int{1, 2, 3, 8} {
		res, err := Replay(newReader(t, log), SHA256, 10, WithWorkers(workers))
		if err != nil {
			t.Fatalf("workers=%d: %v", workers, err)
		}
		got := Result{Entries: res.Entries, Extended: res.Extended, Violations: res.Violations, Mismatches: res.Mismatches, MismatchIndices: res.MismatchIndices}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("workers=%d: counts %+v, want %+v", workers, got, want)
		}
		if len(res.MismatchErrors) != len(want.MismatchIndices) || res.MismatchErrors[0].Index != want.MismatchIndices[0] {
			t.Errorf("workers=%d: %d mismatch errors, want one per index", workers, len(res.MismatchErrors))
		}
		if !bytes.Equal(res.Value, rp.Value()) {
			t.Errorf("workers=%d: value %x, Replayer.Extend's %x", workers, res.Value, rp.Value())
		}
	}
}
