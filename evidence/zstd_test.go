package evidence

import (
	"bytes"
	"encoding/binary"
	"io"
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

// withWindow returns frame (from zstdOf) with its window descriptor set to
// 1 << (10 + exponent) bytes, mantissa 0.
func withWindow(frame []byte, exponent byte) []byte {
	frame = bytes.Clone(frame)
	frame[5] = exponent << 3
	return frame
}

// rawFrame builds a single-segment zstd frame by hand (RFC 8878 3.1.1): its
// declared content size, no checksum, one raw block holding data.
func rawFrame(declared uint64, data []byte) []byte {
	f := append([]byte{}, zstdMagic...)
	f = append(f, 0xe0) // FCS field 8 bytes, Single_Segment_flag
	f = binary.LittleEndian.AppendUint64(f, declared)
	h := uint32(len(data))<<3 | 1 // Block_Size, Raw_Block, Last_Block
	f = append(f, byte(h), byte(h>>8), byte(h>>16))
	return append(f, data...)
}

// A zstd frame may ask for a window of at most MaxZstdWindow, by its window
// descriptor or, single-segment, by its content size: the reader refuses a
// larger one before the first entry (before allocating it), and reads a
// frame at the limit or of its true size (so the hand-made frames are well
// formed and the refusal is the size's).
func TestZstdWindowLimit(t *testing.T) {
	log := readFile(t, testdataPath(t, "vm-debian12-swtpm.bin"))
	want, err := readAll(t, log)
	if err != nil {
		t.Fatal(err)
	}
	frame := zstdOf(t, log)
	for _, tc := range []struct {
		name  string
		frame []byte
		ok    bool
	}{
		{"window 8 MiB, the limit", withWindow(frame, 13), true},
		{"window 16 MiB", withWindow(frame, 14), false},
		{"window 2 GiB", withWindow(frame, 21), false},
		{"single segment of its true size", rawFrame(uint64(len(log)), log), true},
		{"single segment declaring 8 MiB + 1", rawFrame(MaxZstdWindow+1, log), false},
		{"single segment declaring 1 GiB", rawFrame(1<<30, log), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(tc.frame))
			if err != nil {
				t.Fatal(err)
			}
			if !r.Compressed() || r.Format() != FormatBinary {
				t.Fatalf("compressed %t, format %s; want a compressed binary log", r.Compressed(), r.Format())
			}
			n := 0
			for {
				_, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					if tc.ok || n != 0 {
						t.Fatalf("entry %d: %v", n, err)
					}
					return // refused before the first entry
				}
				n++
			}
			if !tc.ok {
				t.Fatalf("a frame over the limit read (%d entries)", n)
			}
			if n != len(want) {
				t.Fatalf("%d entries, want %d", n, len(want))
			}
		})
	}
}
