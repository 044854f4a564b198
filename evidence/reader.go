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

// DefaultMaxRecordSize bounds the template data of one record (and, doubled
// for hex, the length of one ascii line); WithMaxRecordSize changes it. It
// is the largest template data a kernel writes, with room to spare: the
// largest field is an ima-buf buf holding a key payload (add_key(2) takes at
// most 1 MiB - 1), then a sig or an evm xattr value (XATTR_SIZE_MAX, 64 KiB)
// and a path (PATH_MAX, 4096). A larger length is refused before anything
// is allocated for it.
const DefaultMaxRecordSize = 1<<20 + 64<<10

type readerConfig struct {
	order         byteOrder
	hashSize      int // 0: detect
	maxEntries    int // 0: no limit
	maxRecordSize int
	firstIndex    int
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

// WithFirstIndex numbers the entries from n instead of 0: for a log that
// continues another (the entries after a baseline's position), so that
// Entry.Index is the index in the kernel's whole log. WithMaxEntries then
// counts the entries read, not the index.
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
	format Format
	zipped bool // gzip or zstd
	index  int
	off    int64
	err    error // sticky
	hdr    [4 + 64 + 4]byte
	name   [maxNameLen]byte
	// scratch holds small fields between reads (a local array would escape
	// through io.Reader and cost an allocation per record).
	scratch [sha1Len + 4]byte
	// big holds the buffers of records' template data larger than
	// readChunk that reused entries gave back (at most maxBig), for the
	// next such records: a log of kernel-size records then allocates a few,
	// not one per record (each growing to its size).
	big [][]byte

	// The template of the previous entry, so that a log of one template
	// parses its name and field list once.
	lastName     string
	lastDefs     []fieldDef
	lastKnown    bool
	lastFieldErr error // the template's format is ambiguous (templateFields)
	lean         bool  // reading into a reused Entry for replay
	// pathsFrom is the first index whose Path a replay decodes into a
	// reused Entry (set by scan; leanAll: none).
	pathsFrom int
	// fieldByField turns off nextBuffered (tests compare the two paths).
	fieldByField bool
	// deferDecode leaves the decoding of binary records' template data to
	// scan's hashing workers (Entry.decodePending), which read the data
	// anyway; the reader only frames records.
	deferDecode bool
}

// leanAll is a pathsFrom that no entry reaches.
const leanAll = int(^uint(0) >> 1)

const readBufSize = 256 << 10

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
	rd := &Reader{cfg: cfg, br: bufio.NewReaderSize(r, readBufSize), pathsFrom: leanAll, index: cfg.firstIndex}
	magic, _ := rd.br.Peek(len(zstdMagic))
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(rd.br)
		if err != nil {
			return nil, fmt.Errorf("reading gzip header: %w", err)
		}
		rd.zipped = true
		rd.br = bufio.NewReaderSize(zr, readBufSize)
	case bytes.Equal(magic, zstdMagic):
		zr, err := NewZstdReader(rd.br)
		if err != nil {
			return nil, err
		}
		rd.zipped = true
		rd.br = bufio.NewReaderSize(zr, readBufSize)
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
func (r *Reader) Next() (*Entry, error) { return r.next(nil) }

// next reads the next entry, into reuse when it is not nil (keeping its
// buffers, and skipping the Path string, which replay does not need, for
// entries before r.pathsFrom).
func (r *Reader) next(reuse *Entry) (*Entry, error) {
	if r.err != nil {
		return nil, r.err
	}
	var e *Entry
	var err error
	r.lean = reuse != nil && r.index < r.pathsFrom && r.index > 0 // entry 0's path: boot_aggregate
	if r.format == FormatASCII {
		e, err = r.nextASCII()
	} else {
		e, err = r.nextBinary(reuse)
	}
	if err != nil {
		r.err = err
		return nil, err
	}
	if r.cfg.maxEntries > 0 && e.Index-r.cfg.firstIndex >= r.cfg.maxEntries {
		r.err = &ParseError{Index: e.Index, Offset: e.Offset, Field: "entry",
			Err: fmt.Errorf("%w: limit is %d", ErrTooManyEntries, r.cfg.maxEntries)}
		return nil, r.err
	}
	r.index++
	return e, nil
}

// readFull reads exactly len(p) bytes. It returns the bytes read before a
// short read, with io.EOF only when the source itself ended cleanly: an
// error of the source, such as the io.ErrUnexpectedEOF of a gzip or zstd
// stream cut short (no trailer), is returned as it is, never taken for
// the end of the log.
func (r *Reader) readFull(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.br.Read(p[n:])
		n += m
		if err != nil {
			r.off += int64(n)
			if err == io.EOF && n == len(p) {
				err = nil
			}
			return n, err
		}
	}
	r.off += int64(n)
	return n, nil
}

// keepRaw is the largest record buffer a reused Entry keeps: replay's
// batches reuse their entries, and keeping every large buffer would hold
// batches x entries x the record limit. A larger one goes to the Reader's
// few big buffers (maxBig).
const (
	keepRaw = 4 << 10
	maxBig  = 4
)

// takeBig returns a buffer of n bytes from the big buffers given back, or
// nil when none is large enough.
func (r *Reader) takeBig(n int) []byte {
	for i, b := range r.big {
		if cap(b) >= n {
			last := len(r.big) - 1
			r.big[i], r.big[last] = r.big[last], nil
			r.big = r.big[:last]
			return b[:n]
		}
	}
	return nil
}

// alloc returns a buffer of n bytes for e's record: e.raw when large
// enough, else for a large record one given back (takeBig), else a new one.
func (r *Reader) alloc(e *Entry, n int) []byte {
	if cap(e.raw) < n {
		b := []byte(nil)
		if n > keepRaw {
			b = r.takeBig(n)
		}
		if b == nil {
			b = make([]byte, n)
		}
		e.raw = b
	}
	e.raw = e.raw[:n]
	return e.raw
}

// putBig gives a large record buffer back, keeping at most maxBig.
func (r *Reader) putBig(b []byte) {
	if len(r.big) < maxBig {
		r.big = append(r.big, b)
	}
}

// readN reads n bytes into a new slice, growing it as data arrives so that a
// false length never allocates more than the input holds (plus one chunk).
const readChunk = 64 << 10

func (r *Reader) readN(n int) ([]byte, error) {
	const chunk = readChunk
	if n <= chunk {
		b := make([]byte, n)
		got, err := r.readFull(b)
		return b[:got], err
	}
	b := make([]byte, 0, chunk)
	for len(b) < n {
		m := min(n-len(b), chunk)
		b = append(b, make([]byte, m)...)
		got, err := r.readFull(b[len(b)-m:])
		if err != nil {
			return b[:len(b)-m+got], err
		}
	}
	return b, nil
}

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

func (r *Reader) nextBinary(reuse *Entry) (*Entry, error) {
	start := r.off
	e := reuse
	if e == nil {
		e = &Entry{}
	} else {
		raw := e.raw
		if cap(raw) > keepRaw {
			r.putBig(raw) // not kept for the next record: given back to r
			raw = nil
		}
		*e = Entry{raw: raw, Fields: e.Fields[:0]}
	}
	e.Index, e.Offset, e.order = r.index, start, r.cfg.order
	order := r.cfg.order

	// The fixed header: pcr, template hash, template name length.
	if r.cfg.hashSize == 0 {
		r.cfg.hashSize = r.detectHashSize()
	}
	hs := r.cfg.hashSize
	if !r.fieldByField {
		if ok, err := r.nextBuffered(e, start, hs); ok {
			if err != nil {
				return nil, err
			}
			e.Len = int(r.off - start)
			return e, nil
		}
	}
	hdr := r.hdr[:4+hs+4]
	n, err := r.readFull(hdr)
	if err != nil {
		if err == io.EOF && n == 0 {
			return nil, io.EOF
		}
		if err == io.EOF {
			return nil, r.perr(start, "record header", fmt.Errorf("%w: %d bytes, a record header is %d", ErrTrailingBytes, n, len(hdr)))
		}
		return nil, r.perr(start, "record header", err)
	}
	e.PCR = uint32In(order, hdr)
	if e.PCR > maxPCR {
		hint := ""
		if order == binary.LittleEndian && binary.BigEndian.Uint32(hdr) <= maxPCR {
			hint = " (a big-endian log? read it with WithBigEndian)"
		}
		return nil, r.perr(start, "pcr", fmt.Errorf("%w: PCR %d out of range%s", ErrMalformed, e.PCR, hint))
	}
	e.TemplateHash = hdr[4 : 4+hs] // scratch: readTemplateData or readIMATemplate copies it
	nameLen := uint32In(order, hdr[4+hs:])
	if nameLen == 0 || nameLen > maxNameLen {
		err := fmt.Errorf("%w: template name length %d (allowed 1..%d)", ErrLengthTooLarge, nameLen, maxNameLen)
		if nameLen == 0 {
			err = fmt.Errorf("%w: empty template name", ErrMalformed)
		}
		return nil, r.perr(start+int64(4+hs), "template_name_len", err)
	}
	name := r.name[:nameLen]
	if _, err := r.readFull(name); err != nil {
		return nil, r.perr(start+int64(4+hs+4), "template_name", err)
	}
	if string(name) != r.lastName { // no allocation for the comparison
		r.lastName = string(name)
		r.lastDefs, r.lastKnown, r.lastFieldErr = templateFields(r.lastName)
	}
	e.TemplateName = r.lastName

	if r.lastFieldErr != nil {
		return nil, r.perr(start+int64(4+hs+4), "template_name", r.lastFieldErr)
	}
	if e.TemplateName == templateIMA {
		err = r.readIMATemplate(e)
	} else {
		err = r.readTemplateData(e)
	}
	if err != nil {
		return nil, err
	}
	e.Len = int(r.off - start)
	return e, nil
}

// readIMATemplate reads template "ima" data: digest(20) | u32 len | name.
func (r *Reader) readIMATemplate(e *Entry) error {
	fieldStart := r.off
	head := r.scratch[:sha1Len+4]
	if _, err := r.readFull(head); err != nil {
		return r.perr(fieldStart, "ima digest and name length", err)
	}
	n := uint32In(r.cfg.order, head[sha1Len:])
	if n > imaNameMax {
		return r.perr(fieldStart+sha1Len, "ima name length",
			fmt.Errorf("%w: %d (allowed up to %d)", ErrLengthTooLarge, n, imaNameMax))
	}
	hs := len(e.TemplateHash)
	buf := r.alloc(e, hs+sha1Len+4+int(n))
	copy(buf, e.TemplateHash)
	data := buf[hs:]
	copy(data, head)
	if _, err := r.readFull(data[sha1Len+4:]); err != nil {
		return r.perr(fieldStart+sha1Len+4, "ima name", err)
	}
	return r.decodeIMA(e, buf, hs, fieldStart)
}

// decodeIMA sets e's template hash and template "ima" data from buf (the
// template hash, then the data) and checks the name. fieldStart is the
// input offset of the data (for errors).
func (r *Reader) decodeIMA(e *Entry, buf []byte, hs int, fieldStart int64) error {
	data := buf[hs:]
	e.TemplateHash, e.TemplateData = buf[:hs:hs], data
	e.Fields = append(e.Fields[:0], data[:sha1Len], data[sha1Len+4:])
	if err := imaName(e.Fields[1]); err != nil {
		return r.perr(fieldStart+sha1Len+4, "ima name", fmt.Errorf("%w: %w", ErrMalformed, err))
	}
	e.FileDigestAlg, e.FileDigest = "sha1", e.Fields[0]
	if !r.lean {
		e.Path = string(e.Fields[1])
	}
	return nil
}

// nextBuffered reads the binary record at start into e when the read
// buffer holds all of it (or can, after one fill) and its lengths are in
// range: one copy of the record instead of a read per field. It returns
// false, having read nothing, for any record it does not take (lengths out
// of range, a short buffer, a large record, the end of the input, a read
// error), which the field-by-field path then reads or names the fault of;
// the result is the same either way.
func (r *Reader) nextBuffered(e *Entry, start int64, hs int) (bool, error) {
	hdrLen := 4 + hs + 4
	b, _ := r.br.Peek(hdrLen)
	if len(b) < hdrLen {
		return false, nil
	}
	order := r.cfg.order
	pcr := uint32In(order, b)
	nameLen := int(uint32In(order, b[4+hs:]))
	if pcr > maxPCR || nameLen == 0 || nameLen > maxNameLen {
		return false, nil
	}
	dataStart := hdrLen + nameLen
	need := dataStart + 4 // the template data length, or the ima name's
	ima := false
	if b, _ = r.br.Peek(need); len(b) < need {
		return false, nil
	}
	if string(b[hdrLen:dataStart]) == templateIMA {
		ima = true
		if need += sha1Len; len(b) < need {
			if b, _ = r.br.Peek(need); len(b) < need {
				return false, nil
			}
		}
	}
	n := uint32In(order, b[need-4:])
	if (ima && n > imaNameMax) || (!ima && (n > readChunk || uint64(n) > uint64(r.cfg.maxRecordSize))) {
		return false, nil
	}
	total := need + int(n)
	if len(b) < total {
		if b, _ = r.br.Peek(total); len(b) < total {
			return false, nil
		}
	}
	name := b[hdrLen:dataStart]
	if string(name) != r.lastName { // no allocation for the comparison
		r.lastName = string(name)
		r.lastDefs, r.lastKnown, r.lastFieldErr = templateFields(r.lastName)
	}
	if r.lastFieldErr != nil {
		return false, nil
	}

	// The record is taken: copy the template hash and data, then decode
	// (whose errors name this record).
	e.PCR, e.TemplateName = pcr, r.lastName
	var buf []byte
	if ima {
		buf = r.alloc(e, hs+total-dataStart)
		copy(buf, b[4:4+hs])
		copy(buf[hs:], b[dataStart:total])
	} else {
		buf = r.alloc(e, hs+int(n))
		copy(buf, b[4:4+hs])
		copy(buf[hs:], b[need:total])
	}
	if _, err := r.br.Discard(total); err != nil {
		return true, r.perr(start, "record", err) // cannot happen: the bytes were buffered
	}
	r.off += int64(total)
	if ima {
		return true, r.decodeIMA(e, buf, hs, start+int64(dataStart))
	}
	e.TemplateHash, e.TemplateData = buf[:hs:hs], buf[hs:]
	return true, r.decode(e, start+int64(need))
}

// readTemplateData reads u32 data length | length-prefixed fields.
func (r *Reader) readTemplateData(e *Entry) error {
	lenStart := r.off
	lb := r.scratch[:4]
	if _, err := r.readFull(lb); err != nil {
		return r.perr(lenStart, "template_data_len", err)
	}
	n := uint32In(r.cfg.order, lb)
	if uint64(n) > uint64(r.cfg.maxRecordSize) {
		return r.perr(lenStart, "template_data_len",
			fmt.Errorf("%w: %d bytes (limit %d)", ErrLengthTooLarge, n, r.cfg.maxRecordSize))
	}
	// One allocation holds the template hash and the template data.
	hs := len(e.TemplateHash)
	if n <= readChunk {
		buf := r.alloc(e, hs+int(n))
		copy(buf, e.TemplateHash)
		if _, err := r.readFull(buf[hs:]); err != nil {
			return r.perr(lenStart+4, "template_data", err)
		}
		e.TemplateHash, e.TemplateData = buf[:hs:hs], buf[hs:]
	} else {
		// A buffer given back, else one grown as the data arrives (a false
		// length allocates no more than the input holds).
		data := r.takeBig(int(n))
		var err error
		if data != nil {
			var got int
			got, err = r.readFull(data)
			data = data[:got]
		} else {
			data, err = r.readN(int(n))
		}
		if err != nil {
			return r.perr(lenStart+4, "template_data", err)
		}
		e.TemplateHash, e.TemplateData = bytes.Clone(e.TemplateHash), data
		e.raw = data // given back when e is reused
	}
	return r.decode(e, lenStart+4)
}

// decode splits e.TemplateData into fields and decodes a known template.
// dataStart is the input offset of the template data (for errors).
func (r *Reader) decode(e *Entry, dataStart int64) error {
	if e.TemplateName != r.lastName {
		r.lastName = e.TemplateName
		r.lastDefs, r.lastKnown, r.lastFieldErr = templateFields(r.lastName)
	}
	if r.lastFieldErr != nil {
		return r.perr(dataStart, "template_name", r.lastFieldErr)
	}
	e.pending = pendingDecode{defs: r.lastDefs, known: r.lastKnown, lean: r.lean, dataStart: dataStart}
	if r.deferDecode && r.format == FormatBinary {
		e.pending.set = true // scan's hashing workers call decodePending
		return nil
	}
	return e.decodePending()
}

// pendingDecode is what decoding an entry's template data needs beyond
// the entry: its template's fields, whether to skip the Path, and the
// input offset of the data (for errors).
type pendingDecode struct {
	set       bool // a replay's reader left the decoding to its workers
	defs      []fieldDef
	known     bool
	lean      bool
	dataStart int64
}

// decodePending splits e's template data into its fields and checks and
// decodes those of a known template, by e.pending. Its errors are the
// *ParseError of the entry, as the Reader would return them.
func (e *Entry) decodePending() error {
	p := e.pending
	e.pending.set = false
	perr := func(off int64, field string, err error) error {
		return &ParseError{Index: e.Index, Offset: off, Field: field, Err: err}
	}
	fields, bad, ok := splitFields(e.Fields[:0], e.TemplateData, e.order, len(p.defs))
	if !ok {
		return perr(p.dataStart+int64(bad), "template_data field length",
			fmt.Errorf("%w: field length beyond the template data", ErrMalformed))
	}
	e.Fields = fields
	if !p.known {
		return nil
	}
	if i, err := e.decodeFields(p.defs, p.lean); err != nil {
		field := "template_data"
		if i < len(p.defs) {
			field = p.defs[i].id
		}
		return perr(p.dataStart, field, fmt.Errorf("%w: template %s, field %d: %w", ErrMalformed, e.TemplateName, i, err))
	}
	return nil
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
