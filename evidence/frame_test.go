package evidence

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"runtime"
	"testing"
)

// imaRecord builds a binary record of template "ima" (digest | u32 name
// length | name, hashed as digest | name zero-padded to 256 bytes).
func imaRecord(pcr uint32, path string, digest byte) []byte {
	d := bytes.Repeat([]byte{digest}, sha1Len)
	in := make([]byte, sha1Len+imaNameMax+1)
	copy(in, d)
	copy(in[sha1Len:], path)
	th := sha1.Sum(in)
	out := binary.LittleEndian.AppendUint32(nil, pcr)
	out = append(out, th[:]...)
	out = binary.LittleEndian.AppendUint32(out, 3)
	out = append(out, "ima"...)
	out = append(out, d...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(path)))
	return append(out, path...)
}

// mixedLog is a log of ima-ng records of many sizes (some far larger than
// a small window), "ima" records, another PCR's entries, violations and an
// unknown template kept as raw fields.
func mixedLog() []byte {
	var out []byte
	for i := range 400 {
		switch {
		case i%7 == 3:
			out = append(out, imaRecord(10, fmt.Sprintf("/ima/%d", i), byte(i))...)
		case i%13 == 5:
			out = append(out, rec{pcr: 10, name: "ima-cgpath", fields: [][]byte{[]byte("x"), bytes.Repeat([]byte{'c'}, i)}}.bytes()...)
		default:
			r := ngRecord(10, "/p/"+string(bytes.Repeat([]byte{'a'}, (i*37)%900)), byte(i))
			if i%50 == 9 {
				r.pcr = 11
			}
			r.violation = i%61 == 2
			out = append(out, r.bytes()...)
		}
	}
	return out
}

// visited is one entry as a replay saw it.
type visited struct {
	index       int
	value, hash string
	path        string
	herr        string
}

// nextReplay is the reference: entries read one at a time by Next and
// extended by a Replayer, with paths from pathsFrom on, and the error that
// ended reading ("" at a clean end).
func nextReplay(t *testing.T, log []byte, bank Bank, pathsFrom int, opts ...Option) ([]visited, string) {
	t.Helper()
	r, err := NewReader(bytesReader(log), opts...)
	if err != nil {
		t.Fatal(err)
	}
	rp := NewReplayer(bank, 10)
	var out []visited
	for {
		e, err := r.Next()
		if err == io.EOF {
			return out, ""
		}
		if err != nil {
			return out, err.Error()
		}
		v := visited{index: e.Index, hash: fmt.Sprintf("%x", e.TemplateHash)}
		if herr := rp.Extend(e); herr != nil {
			v.herr = herr.Error()
		}
		if e.Index >= pathsFrom {
			v.path = e.Path
		}
		v.value = fmt.Sprintf("%x", rp.Value())
		out = append(out, v)
	}
}

// batchReplay is ReplayEntries on the same log.
func batchReplay(t *testing.T, log []byte, bank Bank, pathsFrom, workers int, opts ...Option) ([]visited, string) {
	t.Helper()
	r, err := NewReader(bytesReader(log), opts...)
	if err != nil {
		t.Fatal(err)
	}
	var out []visited
	err = ReplayEntries(r, bank, 10, func(e *Entry, value []byte, herr error) bool {
		v := visited{index: e.Index, hash: fmt.Sprintf("%x", e.TemplateHash), value: fmt.Sprintf("%x", value), path: e.Path}
		if herr != nil {
			v.herr = herr.Error()
		}
		out = append(out, v)
		return true
	}, WithWorkers(workers), WithPathsFrom(pathsFrom))
	if err != nil {
		return out, err.Error()
	}
	return out, ""
}

// compareReplays checks that ReplayEntries, on one worker and on several,
// visits the entries Next reads with the values a Replayer reaches, and
// ends with the same error.
func compareReplays(t *testing.T, log []byte, bank Bank, opts ...Option) {
	t.Helper()
	pathsFrom := 5
	want, wantErr := nextReplay(t, log, bank, pathsFrom, opts...)
	for _, workers := range []int{1, 3} {
		got, gotErr := batchReplay(t, log, bank, pathsFrom, workers, opts...)
		if gotErr != wantErr {
			t.Fatalf("workers %d: error %q, Next's %q", workers, gotErr, wantErr)
		}
		if len(got) != len(want) {
			t.Fatalf("workers %d: %d entries visited, Next read %d", workers, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("workers %d, entry %d: %+v, Next and a Replayer: %+v", workers, i, got[i], want[i])
			}
		}
	}
}

// withWindowSize runs f with windowSize set to n.
func withWindowSize(n int, f func()) {
	old := windowSize
	windowSize = n
	defer func() { windowSize = old }()
	f()
}

// TestBatchesAgreeWithNext: replay batches frame records in windows shared
// by many records, carry a record that crosses a window's end into the
// next batch, and grow a window for a record larger than it; Next frames
// one record at a time into its own copy. Both must see the same entries,
// values and errors, whatever the window size, for whole logs, logs cut at
// every length, and malformed ones.
func TestBatchesAgreeWithNext(t *testing.T) {
	mixed := mixedLog()
	own := readFile(t, testdataPath(t, "vm-debian12-swtpm.bin"))
	short := concat(ngRecord(10, "/a", 1), ngRecord(10, "/bb", 2), ngRecord(11, "/c", 3))
	short = append(short, imaRecord(10, "/d", 4)...)
	bad := bytes.Clone(mixed)
	bad[len(bad)/2] ^= 0x40 // some record's hash, data or lengths
	for _, size := range []int{1, 48, 300, 4096, 256 << 10} {
		withWindowSize(size, func() {
			t.Run(fmt.Sprintf("window %d", size), func(t *testing.T) {
				compareReplays(t, mixed, SHA256)
				compareReplays(t, mixed, SHA1)
				compareReplays(t, own, SHA256)
				compareReplays(t, bad, SHA256)
				compareReplays(t, mixed, SHA256, WithMaxEntries(123))
				compareReplays(t, mixed, SHA256, WithMaxRecordSize(500))
				if size == 300 || size == 4096 {
					return // the cut logs' records cross these windows as the others' do
				}
				for n := range len(short) + 1 {
					compareReplays(t, short[:n], SHA256)
				}
			})
		})
	}
}

// TestBatchesBoundMemory: a record whose length field claims far more than
// the input holds costs no more than about twice what the input holds.
func TestBatchesBoundMemory(t *testing.T) {
	clean := append(ngRecord(10, "/a", 1).bytes(), make([]byte, 100<<10)...)
	lying := bytes.Clone(clean)
	binary.LittleEndian.PutUint32(lying[4+20+4+6:], 15<<20) // within the record limit
	allocated := func(log []byte, workers int) uint64 {
		r, err := NewReader(bytes.NewReader(log))
		if err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if _, err = Replay(r, SHA256, 10, WithWorkers(workers)); err == nil {
			t.Fatal("a record longer than the input replayed")
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	for _, workers := range []int{1, 2} {
		base, grew := allocated(clean, workers), allocated(lying, workers)
		if grew > base+1<<20 {
			t.Errorf("workers %d: a %d-byte input claiming a 15 MiB record allocated %d bytes (%d with trailing garbage)", workers, len(lying), grew, base)
		}
	}
}

// FuzzReplayEntries: ReplayEntries on any input, window size and reader
// options agrees with Next and a Replayer entry by entry, and ends with
// the same error.
func FuzzReplayEntries(f *testing.F) {
	f.Add(readFile(f, testdataPath(f, "vm-debian12-swtpm.bin")), uint8(0))
	f.Add(mixedLog()[:20000], uint8(2))
	f.Add(concat(ngRecord(10, "/a", 1), ngRecord(11, "/b", 2)), uint8(1|4))
	f.Fuzz(func(t *testing.T, data []byte, flags uint8) {
		opts := []Option{WithMaxRecordSize(1 << 20), WithMaxEntries(5000)}
		if flags&1 != 0 {
			opts = append(opts, WithBigEndian())
		}
		if flags&2 != 0 {
			opts = append(opts, WithPerBankLog(SHA256))
		}
		r, err := NewReader(bytesReader(data), opts...)
		if err != nil || r.Format() != FormatBinary || r.Compressed() {
			return
		}
		withWindowSize([]int{1, 40, 200, 4096}[flags>>2&3], func() { compareReplays(t, data, SHA256, opts...) })
	})
}

// TestFirstIndex: a log read WithFirstIndex(n) and replayed WithInitialValue
// of the PCR after its first n entries is the rest of the whole log: the
// same indices, values and final PCR; WithMaxEntries counts what is read.
func TestFirstIndex(t *testing.T) {
	log := mixedLog()
	whole, _ := nextReplay(t, log, SHA256, 0)
	r, _ := NewReader(bytesReader(log))
	n, off := 150, int64(0)
	for range n {
		e, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		off = e.Offset + int64(e.Len)
	}
	init, _ := hexDecode(whole[n-1].value)
	r, err := NewReader(bytesReader(log[off:]), WithFirstIndex(n), WithMaxEntries(len(whole)-n))
	if err != nil {
		t.Fatal(err)
	}
	i := n
	err = ReplayEntries(r, SHA256, 10, func(e *Entry, value []byte, _ error) bool {
		if e.Index != i || fmt.Sprintf("%x", value) != whole[i].value {
			t.Fatalf("entry %d (index %d): %x, the whole log's %s", i, e.Index, value, whole[i].value)
		}
		i++
		return true
	}, WithInitialValue(init), WithPathsFrom(n))
	if err != nil || i != len(whole) {
		t.Fatalf("%v after %d", err, i)
	}
}

func hexDecode(s string) ([]byte, error) { return hex.DecodeString(s) }
