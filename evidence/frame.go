package evidence

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// window is a run of input bytes that binary records are framed in:
// buf[:len(buf)] has been read, records are framed from buf[pos:], and
// bytes beyond len(buf) up to cap(buf) are free for the next read.
type window struct {
	buf []byte
	pos int
}

// errCarry reports a record that does not fit in the rest of a batch's
// window: the batch ends before it and the next one starts with it.
var errCarry = errors.New("evidence: record continues past the batch")

// windowSize is the size of a replay batch's window (and of Next's): a few
// thousand records of a typical log. A record larger than a window grows it
// as the record's bytes arrive, so a false length costs no more memory
// than the input holds. A variable so that tests can exercise small ones.
var windowSize = 64 << 10

// fill reads into the free part of w.buf until it holds end bytes (growing
// w.buf, as the bytes arrive, if grow is set and end is beyond its
// capacity). It returns errCarry when end is beyond the capacity and grow
// is not set, and io.EOF or the source's error when the input ends first.
func (r *Reader) fill(w *window, end int, grow bool) error {
	for empty := 0; len(w.buf) < end; {
		if len(w.buf) == cap(w.buf) {
			if !grow {
				return errCarry
			}
			// At most double what is read, so that a false length never
			// claims much more than the input holds.
			more := min(end-len(w.buf), max(len(w.buf), readChunk))
			w.buf = append(w.buf, make([]byte, more)...)[:len(w.buf)]
		}
		if r.srcErr != nil {
			return r.srcErr
		}
		free := w.buf[len(w.buf):cap(w.buf)]
		var n int
		if r.br.Buffered() > 0 || r.src == nil {
			n, r.srcErr = r.br.Read(free)
		} else {
			// bufio would copy reads smaller than its buffer through it.
			n, r.srcErr = r.src.Read(free)
		}
		if n < 0 || n > len(free) {
			r.srcErr = fmt.Errorf("evidence: the source returned %d bytes for a read of %d", n, len(free))
			n = 0
		}
		w.buf = w.buf[:len(w.buf)+n]
		if n > 0 {
			empty = 0
		} else if empty++; empty >= 100 && r.srcErr == nil {
			r.srcErr = io.ErrNoProgress
		}
	}
	return nil
}

// frame reads the next binary record into w (growing w.buf only when the
// record starts at w.pos 0 and grow is set) and frames it into e: the
// header's PCR, template hash and name, the template data, offset and
// length, all slices of w.buf; the fields are decoded by decodeFramed. It
// returns io.EOF at a clean end of the input, errCarry when the record
// does not fit in w without growing it, or a *ParseError.
func (r *Reader) frame(w *window, e *Entry, grow bool) error {
	if r.cfg.hashSize == 0 {
		r.cfg.hashSize = r.detectHashSize()
	}
	grow = grow && w.pos == 0
	order := r.cfg.order
	hs := r.cfg.hashSize
	start := r.off
	p := w.pos

	// The fixed header: pcr, template hash, template name length.
	hdr := 4 + hs + 4
	if err := r.fill(w, p+hdr, grow); err != nil {
		n := len(w.buf) - p
		switch {
		case err == errCarry:
			return err
		case err == io.EOF && n == 0:
			return io.EOF
		case err == io.EOF:
			return r.perr(start, "record header", fmt.Errorf("%w: %d bytes, a record header is %d", ErrTrailingBytes, n, hdr))
		}
		return r.perr(start, "record header", err)
	}
	b := w.buf[p:]
	pcr := order.Uint32(b)
	if pcr > maxPCR {
		hint := ""
		if order == binary.LittleEndian && binary.BigEndian.Uint32(b) <= maxPCR {
			hint = " (a big-endian log? read it with WithBigEndian)"
		}
		return r.perr(start, "pcr", fmt.Errorf("%w: PCR %d out of range%s", ErrMalformed, pcr, hint))
	}
	nameLen := int(order.Uint32(b[4+hs:]))
	if nameLen == 0 || nameLen > maxNameLen {
		err := fmt.Errorf("%w: template name length %d (allowed 1..%d)", ErrLengthTooLarge, uint32(nameLen), maxNameLen)
		if nameLen == 0 {
			err = fmt.Errorf("%w: empty template name", ErrMalformed)
		}
		return r.perr(start+int64(4+hs), "template_name_len", err)
	}
	if err := r.fill(w, p+hdr+nameLen, grow); err != nil {
		return r.carryOr(err, start+int64(hdr), "template_name")
	}
	name := w.buf[p+hdr : p+hdr+nameLen]
	if string(name) != r.lastName { // no allocation for the comparison
		r.lastName = string(name)
		r.lastDefs, r.lastKnown = templateFields(r.lastName)
	}

	// The template data: for "ima", digest | u32 name length | name; for
	// every other template, u32 length | length-prefixed fields.
	dataStart := hdr + nameLen
	var dataEnd int
	if r.lastName == templateIMA {
		if err := r.fill(w, p+dataStart+sha1Len+4, grow); err != nil {
			return r.carryOr(err, start+int64(dataStart), "ima digest and name length")
		}
		n := order.Uint32(w.buf[p+dataStart+sha1Len:])
		if n > imaNameMax {
			return r.perr(start+int64(dataStart+sha1Len), "ima name length",
				fmt.Errorf("%w: %d (allowed up to %d)", ErrLengthTooLarge, n, imaNameMax))
		}
		dataEnd = dataStart + sha1Len + 4 + int(n)
		if err := r.fill(w, p+dataEnd, grow); err != nil {
			return r.carryOr(err, start+int64(dataStart+sha1Len+4), "ima name")
		}
	} else {
		if err := r.fill(w, p+dataStart+4, grow); err != nil {
			return r.carryOr(err, start+int64(dataStart), "template_data_len")
		}
		n := order.Uint32(w.buf[p+dataStart:])
		if uint64(n) > uint64(r.cfg.maxRecordSize) {
			return r.perr(start+int64(dataStart), "template_data_len",
				fmt.Errorf("%w: %d bytes (limit %d)", ErrLengthTooLarge, n, r.cfg.maxRecordSize))
		}
		dataStart += 4
		dataEnd = dataStart + int(n)
		if err := r.fill(w, p+dataEnd, grow); err != nil {
			return r.carryOr(err, start+int64(dataStart), "template_data")
		}
	}
	if r.cfg.maxEntries > 0 && r.index-r.cfg.firstIndex >= r.cfg.maxEntries {
		return &ParseError{Index: r.index, Offset: start, Field: "entry",
			Err: fmt.Errorf("%w: limit is %d", ErrTooManyEntries, r.cfg.maxEntries)}
	}

	rec := w.buf[p : p+dataEnd]
	*e = Entry{
		Index: r.index, Offset: start, Len: dataEnd,
		PCR: pcr, TemplateHash: rec[4 : 4+hs : 4+hs], TemplateName: r.lastName, TemplateData: rec[dataStart:],
		Fields: e.Fields[:0], order: order,
		defs: r.lastDefs, known: r.lastKnown, dataOffset: int64(dataStart),
	}
	w.pos += dataEnd
	r.off += int64(dataEnd)
	r.index++
	return nil
}

// carryOr returns errCarry as it is, and any other error of fill as the
// *ParseError of field at offset off.
func (r *Reader) carryOr(err error, off int64, field string) error {
	if err == errCarry {
		return err
	}
	return r.perr(off, field, err)
}

// decodeFramed splits a framed entry's template data into its fields and
// decodes those of a known template; the Path only when lean is false.
func decodeFramed(e *Entry, lean bool) error {
	if e.TemplateName == templateIMA {
		data := e.TemplateData
		e.Fields = append(e.Fields[:0], data[:sha1Len], data[sha1Len+4:])
		e.FileDigestAlg, e.FileDigest = "sha1", e.Fields[0]
		if !lean {
			e.Path = string(e.Fields[1])
		}
		return nil
	}
	dataStart := e.Offset + e.dataOffset
	fields, bad, ok := splitFields(e.Fields[:0], e.TemplateData, e.order, len(e.defs))
	if !ok {
		return &ParseError{Index: e.Index, Offset: dataStart + int64(bad), Field: "template_data field length",
			Err: fmt.Errorf("%w: field length beyond the template data", ErrMalformed)}
	}
	e.Fields = fields
	if !e.known {
		return nil
	}
	if i, ok := e.decodeFields(e.defs, lean); !ok {
		field := "template_data"
		if i < len(e.defs) {
			field = e.defs[i].id
		}
		return &ParseError{Index: e.Index, Offset: dataStart, Field: field,
			Err: fmt.Errorf("%w: template %s has %d fields, the %d-th does not parse", ErrMalformed, e.TemplateName, len(e.Fields), i)}
	}
	return nil
}
