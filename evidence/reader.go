package evidence

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// MaxZstdWindow is the largest zstd window NewReader (and a verifier of a
// carried log) accepts: a frame that asks for more, by its window
// descriptor or, single-segment, by its content size, is refused before
// its history is allocated, so a few bytes of input cannot claim more
// memory than this. zstd(1) stays within it at levels up to 19 (not with
// --ultra -20 to -22, or --long); attest-build compresses with 1 MiB.
const MaxZstdWindow = 8 << 20

// NewZstdReader returns a zstd decoder of r bounded as NewReader bounds
// one: a window of at most MaxZstdWindow (the decoder's memory limit too,
// which its frame-header check applies to a single-segment frame's content
// size; a stream's total output is not limited by it), frame checksums
// checked, decoded synchronously on the caller's goroutine (nothing to
// close).
func NewZstdReader(r io.Reader) (io.Reader, error) {
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(MaxZstdWindow), zstd.WithDecoderMaxMemory(MaxZstdWindow))
	if err != nil {
		return nil, fmt.Errorf("reading zstd: %w", err)
	}
	return zr, nil
}

// zstdMagic starts every zstd frame (RFC 8878, 3.1.1).
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// Format is the form of a measurement log.
type Format int

const (
	// FormatBinary is binary_runtime_measurements (or a per-bank
	// binary_runtime_measurements_<alg>).
	FormatBinary Format = iota
	// FormatASCII is ascii_runtime_measurements (or a per-bank form).
	FormatASCII
)

func (f Format) String() string {
	if f == FormatASCII {
		return "ascii"
	}
	return "binary"
}

// DefaultMaxRecordSize bounds the template data of one record (and the length
// of one ascii line); WithMaxRecordSize changes it.
const DefaultMaxRecordSize = 16 << 20

type readerConfig struct {
	order         byteOrder
	hashSize      int // 0: detect
	maxEntries    int // 0: no limit
	firstIndex    int
	maxRecordSize int
}

// Option configures a Reader.
type Option func(*readerConfig) error

// WithBigEndian reads a binary log written by a big-endian kernel without
// ima_canonical_fmt (lengths and PCR numbers in big-endian order). Canonical
// logs, and every log of a little-endian machine, are little-endian.
func WithBigEndian() Option {
	return func(c *readerConfig) error { c.order = binary.BigEndian; return nil }
}

// WithTemplateHashSize sets the size of the logged template hash: 20 for
// binary_runtime_measurements, the bank's digest size for the per-bank
// binary_runtime_measurements_<alg>. Without it, the size is detected from
// the first record (ascii logs: from every line's hex length).
func WithTemplateHashSize(n int) Option {
	return func(c *readerConfig) error {
		if _, ok := bankOfSize(n); !ok {
			return fmt.Errorf("%w: template hash size %d", ErrUnknownAlgorithm, n)
		}
		c.hashSize = n
		return nil
	}
}

// WithPerBankLog reads a per-bank log (binary_runtime_measurements_<bank>),
// whose template hashes are the bank's digests.
func WithPerBankLog(b Bank) Option {
	return func(c *readerConfig) error {
		if !b.Valid() {
			return fmt.Errorf("%w: bank %s", ErrUnknownAlgorithm, b)
		}
		c.hashSize = b.Size()
		return nil
	}
}

// WithMaxEntries makes Next fail with ErrTooManyEntries on entry n (a
// verifier's bound on work per request). n <= 0 means no limit.
func WithMaxEntries(n int) Option {
	return func(c *readerConfig) error { c.maxEntries = n; return nil }
}

// WithFirstIndex numbers the log's entries from n instead of 0: for a log
// that continues another (the entries after a baseline's position, read
// with a replay WithInitialValue of the baseline's PCR), so that entries
// and errors are named by their index in the whole log. WithMaxEntries
// still counts the entries read.
func WithFirstIndex(n int) Option {
	return func(c *readerConfig) error {
		if n < 0 {
			return fmt.Errorf("evidence: first index %d is negative", n)
		}
		c.firstIndex = n
		return nil
	}
}

// WithMaxRecordSize bounds the template data of one record (default
// DefaultMaxRecordSize).
func WithMaxRecordSize(n int) Option {
	return func(c *readerConfig) error {
		if n <= 0 {
			return fmt.Errorf("evidence: max record size %d must be positive", n)
		}
		c.maxRecordSize = n
		return nil
	}
}

// Reader reads entries of an IMA measurement log one at a time; it never
// holds more than one record (and a read buffer) in memory.
type Reader struct {
	cfg    readerConfig
	br     *bufio.Reader
	src    io.Reader // what br reads: binary records are read from it directly once br is drained
	srcErr error     // sticky error of reading br or src (io.EOF at the end)
	win    window    // Next's window of binary records
	format Format
	zipped bool // gzip or zstd
	index  int
	off    int64
	err    error // sticky

	// The template of the previous entry, so that a log of one template
	// parses its name and field list once.
	lastName  string
	lastDefs  []fieldDef
	lastKnown bool
	// pathsFrom is the first index whose Path a replay decodes (set by
	// ReplayEntries; leanAll: none).
	pathsFrom int
}

// leanAll is a pathsFrom that no entry reaches.
const leanAll = int(^uint(0) >> 1)

// NewReader returns a Reader of the log in r, detecting its form: gzip or
// zstd (by their magic bytes, then the form inside), binary (the first byte is a PCR
// number's low byte, below 0x20) or ascii (a digit or space).
func NewReader(r io.Reader, opts ...Option) (*Reader, error) {
	cfg := readerConfig{order: binary.LittleEndian, maxRecordSize: DefaultMaxRecordSize}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	rd := &Reader{cfg: cfg, br: bufio.NewReaderSize(r, readBufSize), src: r, pathsFrom: leanAll, index: cfg.firstIndex}
	magic, _ := rd.br.Peek(len(zstdMagic))
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(rd.br)
		if err != nil {
			return nil, fmt.Errorf("reading gzip header: %w", err)
		}
		rd.zipped = true
		rd.br, rd.src = bufio.NewReaderSize(zr, readBufSize), zr
	case bytes.Equal(magic, zstdMagic):
		zr, err := NewZstdReader(rd.br)
		if err != nil {
			return nil, err
		}
		rd.zipped = true
		rd.br, rd.src = bufio.NewReaderSize(zr, readBufSize), zr
	}
	if first, _ := rd.br.Peek(1); len(first) == 1 && first[0] >= 0x20 {
		rd.format = FormatASCII
	}
	return rd, nil
}

// Format returns the detected form of the log.
func (r *Reader) Format() Format { return r.format }

// Compressed reports whether the input was gzip- or zstd-compressed.
func (r *Reader) Compressed() bool { return r.zipped }

// Next returns the next entry. At a clean end of the log it returns io.EOF;
// malformed input gives a *ParseError naming entry, offset and field;
// errors of the underlying reader are returned wrapped. Errors are sticky.
func (r *Reader) Next() (*Entry, error) {
	if r.err != nil {
		return nil, r.err
	}
	var e *Entry
	var err error
	if r.format == FormatASCII {
		e, err = r.nextASCII()
		if err == nil && r.cfg.maxEntries > 0 && e.Index-r.cfg.firstIndex >= r.cfg.maxEntries {
			err = &ParseError{Index: e.Index, Offset: e.Offset, Field: "entry",
				Err: fmt.Errorf("%w: limit is %d", ErrTooManyEntries, r.cfg.maxEntries)}
		}
		if err == nil {
			r.index++
		}
	} else {
		e, err = r.nextBinary()
	}
	if err != nil {
		r.err = err
		return nil, err
	}
	return e, nil
}

// readBufSize is the bufio buffer of every input; ascii lines are read
// from it, binary records through it into windows.
const readBufSize = 256 << 10

// readChunk bounds how much a record's false length can make the reader
// allocate ahead of the bytes that arrive.
const readChunk = 64 << 10

func (r *Reader) perr(start int64, field string, err error) error {
	if err == io.EOF {
		err = ErrTruncated
	} else if !isSentinel(err) {
		err = fmt.Errorf("reading log: %w", err)
	}
	return &ParseError{Index: r.index, Offset: start, Field: field, Err: err}
}

func isSentinel(err error) bool {
	for _, s := range []error{ErrTruncated, ErrTrailingBytes, ErrLengthTooLarge, ErrUnknownAlgorithm,
		ErrUnknownTemplate, ErrMalformed, ErrTooManyEntries} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// maxPCR bounds PCR numbers: TPMs have 24 PCRs; a larger number is a sign of
// garbage or of a big-endian log read as little-endian.
const maxPCR = 63

// nextBinary frames the next record in the Reader's window and returns it
// as a new Entry holding its own copy of the record's bytes.
func (r *Reader) nextBinary() (*Entry, error) {
	w := &r.win
	if w.buf == nil {
		w.buf = make([]byte, 0, windowSize)
	}
	var f Entry
	for {
		err := r.frame(w, &f, true)
		if err == nil {
			break
		}
		if err != errCarry {
			return nil, err
		}
		// The record continues past the window: move it to the front (into
		// a window of the usual size if an earlier record grew this one).
		rest := w.buf[w.pos:]
		if cap(w.buf) > 4*windowSize && len(rest) <= windowSize {
			w.buf = make([]byte, 0, windowSize)
		}
		w.buf, w.pos = append(w.buf[:0], rest...), 0
	}
	hs := len(f.TemplateHash)
	raw := make([]byte, hs+len(f.TemplateData))
	copy(raw, f.TemplateHash)
	copy(raw[hs:], f.TemplateData)
	f.TemplateHash, f.TemplateData = raw[:hs:hs], raw[hs:]
	if err := decodeFramed(&f, false); err != nil {
		return nil, err
	}
	return &f, nil
}

// detectHashSize guesses the template hash size of a binary log from its
// first record: 20 (the sha1 log) unless the bytes after a 20-byte hash are
// not a plausible template name and those after a larger bank's are.
func (r *Reader) detectHashSize() int {
	peek, _ := r.br.Peek(4 + 64 + 4 + maxNameLen)
	plausible := func(hs int) bool {
		if len(peek) < 4+hs+4 {
			return false
		}
		n := r.cfg.order.Uint32(peek[4+hs:])
		if n == 0 || n > maxNameLen || len(peek) < 4+hs+4+int(n) {
			return false
		}
		for _, c := range peek[4+hs+4 : 4+hs+4+int(n)] {
			if c < 0x21 || c > 0x7e {
				return false
			}
		}
		return true
	}
	for _, b := range banks {
		if plausible(b.Size()) {
			return b.Size()
		}
	}
	return sha1Len
}

// byteOrder is binary.LittleEndian or binary.BigEndian.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}
