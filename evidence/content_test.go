package evidence

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// The kernel does not hash an entry's template name, so a signer can rename
// any entry's template. Fields are therefore checked by content, not by the
// name: these tests are written against the attacks of issue 12.

func sha256Field(b byte) []byte {
	return append([]byte("sha256:\x00"), bytes.Repeat([]byte{b}, 32)...)
}

// imaRecord builds a template "ima" record: digest(20) | u32 len | name,
// its template hash over the name zero-padded to 256 bytes.
func imaRecord(name string) []byte {
	d := bytes.Repeat([]byte{7}, 20)
	e := &Entry{TemplateName: templateIMA, Fields: [][]byte{d, []byte(name)}}
	th := e.TemplateDigest(SHA1)
	out := binary.LittleEndian.AppendUint32(nil, 10)
	out = append(out, th...)
	out = binary.LittleEndian.AppendUint32(out, 3)
	out = append(out, "ima"...)
	out = append(out, d...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(name)))
	return append(out, name...)
}

func TestFieldContentRules(t *testing.T) {
	path := []byte("/tmp/evil/run.sh\x00")
	sig := []byte{0x03, 0x02, 0x01}
	ok := []struct {
		name     string
		template string
		fields   [][]byte
		path     string
	}{
		{"ima-ng", "ima-ng", [][]byte{sha256Field(1), path}, "/tmp/evil/run.sh"},
		{"ima-ng violation (zero digest)", "ima-ng", [][]byte{sha256Field(0), path}, "/tmp/evil/run.sh"},
		{"ima-ng sha1", "ima-ng", [][]byte{append([]byte("sha1:\x00"), bytes.Repeat([]byte{1}, 20)...), path}, "/tmp/evil/run.sh"},
		{"ima-ngv2", "ima-ngv2", [][]byte{append([]byte("ima:sha256:\x00"), bytes.Repeat([]byte{1}, 32)...), path}, "/tmp/evil/run.sh"},
		{"ima-sig with empty sig", "ima-sig", [][]byte{sha256Field(1), path, nil}, "/tmp/evil/run.sh"},
		{"custom format d-ng|n-ng|sig", "d-ng|n-ng|sig", [][]byte{sha256Field(1), path, sig}, "/tmp/evil/run.sh"},
		{"custom format n-ng|d-ng", "n-ng|d-ng", [][]byte{path, sha256Field(1)}, "/tmp/evil/run.sh"},
		{"custom format d|n", "d|n", [][]byte{bytes.Repeat([]byte{1}, 20), path}, "/tmp/evil/run.sh"},
		{"ima-modsig without modsig", "ima-modsig", [][]byte{sha256Field(1), path, nil, nil, nil}, "/tmp/evil/run.sh"},
	}
	for _, tc := range ok {
		t.Run("accepts "+tc.name, func(t *testing.T) {
			e, err := readOne(rec{pcr: 10, name: tc.template, fields: tc.fields}.bytes())
			if err != nil {
				t.Fatal(err)
			}
			if e.Path != tc.path {
				t.Fatalf("path %q, want %q", e.Path, tc.path)
			}
		})
	}

	bad := []struct {
		name     string
		template string
		fields   [][]byte
		field    string // the ParseError's field
	}{
		// An ima-ng entry renamed to a custom format that swaps its fields:
		// the digest would be read as the path.
		{"ima-ng renamed n-ng|d-ng", "n-ng|d-ng", [][]byte{sha256Field(1), path}, "n-ng"},
		{"ima-ng renamed n-ng|d", "n-ng|d", [][]byte{sha256Field(1), path}, "n-ng"},
		{"ima-ng renamed d|n-ng", "d|n-ng", [][]byte{sha256Field(1), path}, "d"},
		// A 19-character path plus its NUL is 20 bytes, a d's size: the
		// other field still fails.
		{"20-byte path read as d", "n-ng|d", [][]byte{sha256Field(1), []byte("/tmp/evil/abcdefgh\x00\x00")[:20]}, "n-ng"},
		{"ima-ng renamed ima-ngv2", "ima-ngv2", [][]byte{sha256Field(1), path}, "d-ngv2"},
		{"ima-sig renamed ima-ng", "ima-ng", [][]byte{sha256Field(1), path, sig}, "template_data"},
		{"ima-ng renamed ima-sig", "ima-sig", [][]byte{sha256Field(1), path}, "template_data"},
		{"n-ng without NUL", "ima-ng", [][]byte{sha256Field(1), []byte("/tmp/evil/run.sh")}, "n-ng"},
		{"n-ng with a NUL inside", "ima-ng", [][]byte{sha256Field(1), []byte("/tmp/x\x00.sh\x00")}, "n-ng"},
		{"n-ng with two NULs at the end", "ima-ng", [][]byte{sha256Field(1), []byte("/tmp/x.sh\x00\x00")}, "n-ng"},
		{"n-ng empty", "ima-ng", [][]byte{sha256Field(1), nil}, "n-ng"},
		{"d-ng empty", "ima-ng", [][]byte{nil, path}, "d-ng"},
		{"d-ng bare digest", "ima-ng", [][]byte{bytes.Repeat([]byte{1}, 32), path}, "d-ng"},
		{"d-ng unknown algorithm", "ima-ng", [][]byte{append([]byte("sha999:\x00"), bytes.Repeat([]byte{1}, 32)...), path}, "d-ng"},
		{"d-ng short digest", "ima-ng", [][]byte{append([]byte("sha256:\x00"), bytes.Repeat([]byte{1}, 31)...), path}, "d-ng"},
		{"d-ng long digest", "ima-ng", [][]byte{append([]byte("sha256:\x00"), bytes.Repeat([]byte{1}, 33)...), path}, "d-ng"},
		{"d-ng sha1 size under sha256", "ima-ng", [][]byte{append([]byte("sha256:\x00"), bytes.Repeat([]byte{1}, 20)...), path}, "d-ng"},
		{"d-ngv2 unknown type", "ima-ngv2", [][]byte{append([]byte("foo:sha256:\x00"), bytes.Repeat([]byte{1}, 32)...), path}, "d-ngv2"},
		{"d of 19 bytes", "d|n-ng", [][]byte{bytes.Repeat([]byte{1}, 19), path}, "d"},
		{"n (custom) with a NUL inside", "d|n", [][]byte{bytes.Repeat([]byte{1}, 20), []byte("/tmp/a\x00.sh\x00")}, "n"},
		{"format naming a field twice", "d-ng|n-ng|n-ng", [][]byte{sha256Field(1), path, []byte("/usr/bin/ok\x00")}, "template_name"},
		{"format with two name fields", "d-ng|n|n-ng", [][]byte{sha256Field(1), path, path}, "template_name"},
		{"format with two digest fields", "d|d-ng|n-ng", [][]byte{bytes.Repeat([]byte{1}, 20), sha256Field(1), path}, "template_name"},
		{"imode of 4 bytes", "evm-sig", [][]byte{sha256Field(1), path, nil, nil, nil, nil, nil, nil, {1, 2, 3, 4}}, "imode"},
	}
	for _, tc := range bad {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			_, err := readOne(rec{pcr: 10, name: tc.template, fields: tc.fields}.bytes())
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want a *ParseError matching ErrMalformed", err)
			}
			if pe.Field != tc.field {
				t.Errorf("field %q, want %q (%v)", pe.Field, tc.field, err)
			}
		})
	}

	// Template "ima": the template hash covers the name zero-padded to 256
	// bytes, so "/tmp/x.sh" and "/tmp/x.sh\x00\x00" hash alike; the binary
	// form carries the name without its NUL.
	t.Run("ima name", func(t *testing.T) {
		if e, err := readOne(imaRecord("/tmp/x.sh")); err != nil || e.Path != "/tmp/x.sh" {
			t.Fatalf("good ima record: %v, path %q", err, e.Path)
		}
		for _, name := range []string{"/tmp/x.sh\x00", "/tmp/x.sh\x00\x00\x00", "/tmp/x\x00.sh"} {
			a, b := imaRecord(name), imaRecord("/tmp/x.sh")
			if !bytes.Equal(a[4:24], b[4:24]) && !strings.Contains(name, "\x00.") {
				t.Fatalf("%q: template hash differs from the NUL-less name's: the attack this refuses needs it equal", name)
			}
			_, err := readOne(a)
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%q: err = %v, want ErrMalformed", name, err)
			}
		}
	})
	t.Run("ima name in the ascii form", func(t *testing.T) {
		line := "10 " + strings.Repeat("00", 20) + " ima " + strings.Repeat("07", 20) + " /tmp/x\x00.sh\n"
		_, err := readOne([]byte(line))
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("err = %v, want ErrMalformed", err)
		}
	})
}

// readOne reads the first entry of a log and checks that it is the only one.
func readOne(log []byte) (*Entry, error) {
	r, err := NewReader(bytes.NewReader(log))
	if err != nil {
		return nil, err
	}
	e, err := r.Next()
	if err != nil {
		return nil, err
	}
	if _, err := r.Next(); err != io.EOF {
		return nil, err
	}
	return e, nil
}

func TestTemplateFieldsRefusesAmbiguousFormats(t *testing.T) {
	for _, name := range []string{"d-ng|n-ng|n-ng", "n|n-ng|d-ng", "d|d-ng|n-ng", "d-ng|d-ngv2|n-ng", "sig|sig"} {
		if ids, ok := TemplateFields(name); ok {
			t.Errorf("TemplateFields(%q) = %v, true; want false", name, ids)
		}
	}
	for name, want := range map[string]string{"ima-ng": "d-ng|n-ng", "n-ng|d-ng": "n-ng|d-ng", "ima": "d|n"} {
		ids, ok := TemplateFields(name)
		if !ok || strings.Join(ids, "|") != want {
			t.Errorf("TemplateFields(%q) = %v, %t; want %s", name, ids, ok, want)
		}
	}
}

// TestRecordLimit: a length over the kernel's largest record is refused
// before anything is allocated for it.
func TestRecordLimit(t *testing.T) {
	r0 := ngRecord(10, "/a", 1).bytes()
	hdr := r0[:4+20+4+6]
	for _, n := range []uint32{DefaultMaxRecordSize + 1, 16 << 20, 1<<32 - 1} {
		log := binary.LittleEndian.AppendUint32(bytes.Clone(hdr), n)
		log = append(log, make([]byte, 100)...)
		allocs := testing.AllocsPerRun(5, func() {
			r, _ := NewReader(bytes.NewReader(log))
			if _, err := r.Next(); !errors.Is(err, ErrLengthTooLarge) {
				t.Fatalf("length %d: err = %v, want ErrLengthTooLarge", n, err)
			}
		})
		if allocs > 20 {
			t.Errorf("length %d: %.0f allocations before the refusal", n, allocs)
		}
	}
	// The limit itself is accepted (the record is then truncated here).
	log := binary.LittleEndian.AppendUint32(bytes.Clone(hdr), DefaultMaxRecordSize)
	r, _ := NewReader(bytes.NewReader(log))
	if _, err := r.Next(); !errors.Is(err, ErrTruncated) {
		t.Fatalf("length at the limit: err = %v, want ErrTruncated", err)
	}
}

// TestCompressedStreamExact: nothing may follow a gzip or zstd stream, and a
// stream without its trailer (gzip CRC and size, zstd checksum) is refused,
// not taken for a clean end of the log.
func TestCompressedStreamExact(t *testing.T) {
	log := concat(ngRecord(10, "/a", 1), ngRecord(10, "/b", 2))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(log)
	zw.Close()
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderCRC(true))
	zs := enc.EncodeAll(log, nil)
	enc.Close()

	count := func(data []byte) (int, error) {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			return 0, err
		}
		n := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				return n, nil
			}
			if err != nil {
				return n, err
			}
			n++
		}
	}
	for name, data := range map[string][]byte{"gzip": gz.Bytes(), "zstd": zs} {
		if n, err := count(data); err != nil || n != 2 {
			t.Fatalf("%s: %d entries, %v", name, n, err)
		}
	}
	cases := map[string][]byte{
		"gzip without its 8-byte trailer": gz.Bytes()[:gz.Len()-8],
		"gzip without its size":           gz.Bytes()[:gz.Len()-4],
		"gzip missing one trailer byte":   gz.Bytes()[:gz.Len()-1],
		"zstd without its checksum":       zs[:len(zs)-4],
		"zstd missing one checksum byte":  zs[:len(zs)-1],
	}
	for i := 1; i <= 12; i++ {
		cases["gzip and "+strings.Repeat("x", i)] = append(bytes.Clone(gz.Bytes()), bytes.Repeat([]byte{0}, i)...)
		cases["zstd and "+strings.Repeat("x", i)] = append(bytes.Clone(zs), bytes.Repeat([]byte{0}, i)...)
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if n, err := count(data); err == nil {
				t.Fatalf("read %d entries and a clean end", n)
			}
		})
	}
}

// TestHashAlgAgreesWithKernelTable: the lookup of d-ng algorithm names
// (a switch for the common ones before the table) gives every name of the
// kernel's table with its size, and nothing else.
func TestHashAlgAgreesWithKernelTable(t *testing.T) {
	for name, size := range hashAlgSizes {
		alg, n, ok := hashAlg([]byte(name))
		if !ok || alg != name || n != size {
			t.Errorf("hashAlg(%q) = %q, %d, %v; want %q, %d, true", name, alg, n, ok, name, size)
		}
	}
	for _, name := range []string{"", "sha", "SHA256", "sha256 ", "sha2-256", "crc32"} {
		if alg, n, ok := hashAlg([]byte(name)); ok {
			t.Errorf("hashAlg(%q) = %q, %d, true; want unknown", name, alg, n)
		}
	}
}

// TestLargeRecordBuffers: records larger than the read chunk (an ima-ng
// path field of up to 1 MiB here; the kernel writes ima-buf and signature
// records this large) replay right when their buffers are given back and
// taken again for the next, in any order of sizes and on 1 or 3 workers,
// and a log of 48 such records allocates a few of them, not one each.
func TestLargeRecordBuffers(t *testing.T) {
	var rs []rec
	var paths []string
	for i := range 48 {
		n := []int{70 << 10, 1 << 20, 200 << 10, 65 << 10, 900 << 10, 300}[i%6]
		p := "/" + strings.Repeat(string(rune('a'+i%26)), n) + fmt.Sprint(i)
		paths = append(paths, p)
		rs = append(rs, ngRecord(10, p, byte(i)))
	}
	log := concat(rs...)
	for _, workers := range []int{1, 3} {
		r, err := NewReader(bytes.NewReader(log))
		if err != nil {
			t.Fatal(err)
		}
		i := 0
		err = ReplayEntries(r, SHA256, 10, func(e *Entry, _ []byte, herr error) bool {
			if herr != nil || e.Path != paths[i] || e.FileDigest[0] != byte(i) {
				t.Fatalf("%d workers, entry %d: %v, path of %d bytes, digest %x", workers, i, herr, len(e.Path), e.FileDigest[:1])
			}
			i++
			return true
		}, WithWorkers(workers), WithPathsFrom(0))
		if err != nil || i != len(paths) {
			t.Fatalf("%d workers: %v after %d entries", workers, err, i)
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r, _ := NewReader(bytes.NewReader(log))
	if _, err := Replay(r, SHA256, 10, WithWorkers(1)); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	// 48 records of 300 B to 1 MiB (about 20 MiB of template data): with
	// the buffers given back, a few MiB; one (grown) buffer each is more
	// than 40 MiB.
	if got := after.TotalAlloc - before.TotalAlloc; got > 12<<20 {
		t.Errorf("replaying %d MiB of large records allocated %d MiB", len(log)>>20, got>>20)
	}
}
