package evidence

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// zstdOf compresses b as one zstd frame that is not single-segment, so its
// header carries a window descriptor (byte 5).
func zstdOf(t testing.TB, b []byte) []byte {
	t.Helper()
	zw, err := zstd.NewWriter(nil, zstd.WithSingleSegment(false))
	if err != nil {
		t.Fatal(err)
	}
	defer zw.Close()
	frame := zw.EncodeAll(b, nil)
	if frame[4]&0x20 != 0 { // RFC 8878 3.1.1.1.1: Single_Segment_flag
		t.Fatalf("frame header descriptor %#x: single segment", frame[4])
	}
	return frame
}

// A zstd frame may ask for a window of at most MaxZstdWindow: the reader
// refuses a larger one before allocating it, naming the entry and offset
// where it stopped, and reads a frame at the limit.
func TestZstdWindowLimit(t *testing.T) {
	log := readFile(t, testdataPath(t, "vm-debian12-swtpm.bin"))
	want, err := readAll(t, log)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		exponent byte // window = 1 << (10 + exponent)
		ok       bool
	}{
		{"8 MiB, the limit", 13, true},
		{"16 MiB", 14, false},
		{"2 GiB", 21, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frame := zstdOf(t, log)
			frame[5] = tc.exponent << 3 // window descriptor, mantissa 0
			r, err := NewReader(bytes.NewReader(frame))
			if err != nil {
				t.Fatal(err)
			}
			if !r.Compressed() || r.Format() != FormatBinary {
				t.Fatalf("compressed %t, format %s; want a compressed binary log", r.Compressed(), r.Format())
			}
			var got []*Entry
			for {
				e, err := r.Next()
				if err != nil {
					if tc.ok && err != io.EOF {
						t.Fatalf("entry %d: %v", len(got), err)
					}
					if !tc.ok && (err == io.EOF || !strings.Contains(err.Error(), "window size exceeded") || !strings.Contains(err.Error(), "entry 0")) {
						t.Fatalf("err = %v, want window size exceeded at entry 0", err)
					}
					break
				}
				got = append(got, e)
			}
			if tc.ok && len(got) != len(want) {
				t.Fatalf("%d entries, want %d", len(got), len(want))
			}
			if !tc.ok && len(got) != 0 {
				t.Fatalf("%d entries read from a refused frame", len(got))
			}
		})
	}
}
