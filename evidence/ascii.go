package evidence

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// readLine returns the next line without its newline, and the number of
// bytes it took in the input. It bounds the line length.
func (r *Reader) readLine() ([]byte, int, error) {
	limit := 2*r.cfg.maxRecordSize + 1024
	var acc []byte
	for {
		frag, err := r.br.ReadSlice('\n')
		switch {
		case err == nil:
			if acc != nil {
				acc = append(acc, frag...)
				frag = acc
			}
			r.off += int64(len(frag))
			return frag[:len(frag)-1], len(frag), nil
		case errors.Is(err, bufio.ErrBufferFull):
			acc = append(acc, frag...)
			if len(acc) > limit {
				return nil, 0, fmt.Errorf("%w: line longer than %d bytes", ErrLengthTooLarge, limit)
			}
		case err == io.EOF:
			acc = append(acc, frag...)
			r.off += int64(len(acc))
			if len(acc) == 0 {
				return nil, 0, io.EOF
			}
			return acc, len(acc), nil // a last line without a newline
		default:
			return nil, 0, fmt.Errorf("reading log: %w", err)
		}
	}
}

// nextASCII parses one line of ascii_runtime_measurements and rebuilds the
// template data the binary log would carry, so both forms replay alike.
func (r *Reader) nextASCII() (*Entry, error) {
	start := r.off
	line, n, err := r.readLine()
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, r.perr(start, "line", err)
	}
	e := &Entry{Index: r.index, Offset: start, Len: n, order: r.cfg.order}

	// Tokens split at single spaces: the kernel prints "%2d " for the PCR,
	// then " "-separated fields; strings hold no space, the kernel having
	// replaced them with '_' in the template data itself
	// (ima_write_template_field_data), so the binary log holds '_' too.
	pos := 0
	for pos < len(line) && line[pos] == ' ' {
		pos++
	}
	type token struct {
		b   []byte
		off int64
	}
	var toks []token
	for {
		i := bytes.IndexByte(line[pos:], ' ')
		if i < 0 {
			toks = append(toks, token{line[pos:], start + int64(pos)})
			break
		}
		toks = append(toks, token{line[pos : pos+i], start + int64(pos)})
		pos += i + 1
	}
	if len(toks) < 3 {
		return nil, r.perr(start, "line", fmt.Errorf("%w: %d space-separated fields, want at least 3", ErrMalformed, len(toks)))
	}
	pcr, err := strconv.ParseUint(string(toks[0].b), 10, 32)
	if err != nil || pcr > maxPCR {
		return nil, r.perr(toks[0].off, "pcr", fmt.Errorf("%w: PCR %q", ErrMalformed, toks[0].b))
	}
	e.PCR = uint32(pcr)
	e.TemplateHash, err = hex.AppendDecode(nil, toks[1].b)
	if err != nil {
		return nil, r.perr(toks[1].off, "template_hash", fmt.Errorf("%w: %w", ErrMalformed, err))
	}
	if _, ok := bankOfSize(len(e.TemplateHash)); !ok || (r.cfg.hashSize != 0 && r.cfg.hashSize != len(e.TemplateHash)) {
		return nil, r.perr(toks[1].off, "template_hash",
			fmt.Errorf("%w: template hash of %d bytes", ErrUnknownAlgorithm, len(e.TemplateHash)))
	}
	e.TemplateName = string(toks[2].b)
	defs, known, ferr := templateFields(e.TemplateName)
	if ferr != nil {
		return nil, r.perr(toks[2].off, "template_name", ferr)
	}
	if !known {
		return nil, r.perr(toks[2].off, "template_name",
			fmt.Errorf("%w: %q: the ascii form cannot be rebuilt into template data", ErrUnknownTemplate, e.TemplateName))
	}
	toks = toks[3:]
	if len(toks) != len(defs) {
		return nil, r.perr(start, "template fields", fmt.Errorf("%w: template %s has %d fields, the line %d",
			ErrMalformed, e.TemplateName, len(defs), len(toks)))
	}

	fields := make([][]byte, len(defs))
	for i, d := range defs {
		f, err := parseASCIIField(d, toks[i].b, r.cfg)
		if err != nil {
			return nil, r.perr(toks[i].off, d.id, err)
		}
		fields[i] = f
	}

	if e.TemplateName == templateIMA {
		if len(fields[0]) != sha1Len {
			return nil, r.perr(toks[0].off, "d", fmt.Errorf("%w: ima digest of %d bytes, want 20", ErrMalformed, len(fields[0])))
		}
		name := fields[1]
		if len(name) > 0 {
			name = name[:len(name)-1] // the binary form carries no NUL
		}
		if len(name) > imaNameMax {
			return nil, r.perr(toks[1].off, "n", fmt.Errorf("%w: ima name of %d bytes", ErrLengthTooLarge, len(name)))
		}
		if err := imaName(name); err != nil {
			return nil, r.perr(toks[1].off, "n", fmt.Errorf("%w: %w", ErrMalformed, err))
		}
		data := make([]byte, 0, sha1Len+4+len(name))
		data = append(data, fields[0]...)
		data = r.cfg.order.AppendUint32(data, uint32(len(name)))
		data = append(data, name...)
		e.TemplateData = data
		e.Fields = [][]byte{data[:sha1Len], data[sha1Len+4:]}
		e.FileDigestAlg, e.FileDigest, e.Path = "sha1", e.Fields[0], string(e.Fields[1])
		return e, nil
	}

	size := 0
	for _, f := range fields {
		size += 4 + len(f)
	}
	data := make([]byte, 0, size)
	for _, f := range fields {
		data = r.cfg.order.AppendUint32(data, uint32(len(f)))
		data = append(data, f...)
	}
	e.TemplateData = data
	if err := r.decode(e, start); err != nil {
		return nil, err
	}
	return e, nil
}

// parseASCIIField turns one printed field back into its template bytes.
func parseASCIIField(d fieldDef, tok []byte, cfg readerConfig) ([]byte, error) {
	if len(tok) == 0 {
		return nil, nil // the kernel prints nothing for an empty field
	}
	switch d.kind {
	case kindDigest, kindHex:
		b, err := hex.AppendDecode(nil, tok)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		return b, nil
	case kindDigestWithAlgo:
		i := bytes.LastIndexByte(tok, ':')
		dig, err := hex.AppendDecode(nil, tok[i+1:])
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		if i < 0 {
			return dig, nil
		}
		out := make([]byte, 0, i+2+len(dig))
		out = append(out, tok[:i+1]...)
		out = append(out, 0)
		return append(out, dig...), nil
	case kindString:
		return append(append(make([]byte, 0, len(tok)+1), tok...), 0), nil
	case kindUint:
		v, err := strconv.ParseUint(string(tok), 10, d.size*8)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		switch d.size {
		case 2:
			return cfg.order.AppendUint16(nil, uint16(v)), nil
		default:
			return cfg.order.AppendUint32(nil, uint32(v)), nil
		}
	}
	return nil, fmt.Errorf("%w: field kind %d", ErrMalformed, d.kind)
}

// AppendASCII appends the entry as the kernel prints it in
// ascii_runtime_measurements (ima_ascii_measurements_show), newline
// included: the PCR as "%2d", the logged template hash in hex, the template
// name, and each field by its kind. Fields of templates this package does
// not know are printed in hex, which the kernel would print differently.
func (e *Entry) AppendASCII(dst []byte) []byte {
	if e.PCR < 10 {
		dst = append(dst, ' ')
	}
	dst = strconv.AppendUint(dst, uint64(e.PCR), 10)
	dst = append(dst, ' ')
	dst = hex.AppendEncode(dst, e.TemplateHash)
	dst = append(dst, ' ')
	dst = append(dst, e.TemplateName...)
	defs, known, ferr := templateFields(e.TemplateName)
	if ferr != nil || known && len(defs) != len(e.Fields) {
		known = false
	}
	for i, f := range e.Fields {
		dst = append(dst, ' ')
		if len(f) == 0 {
			continue
		}
		kind := kindHex
		if known {
			kind = defs[i].kind
		}
		dst = appendASCIIField(dst, kind, f, e)
	}
	return append(dst, '\n')
}

func appendASCIIField(dst []byte, kind fieldKind, f []byte, e *Entry) []byte {
	switch kind {
	case kindDigestWithAlgo:
		if i := bytes.IndexByte(f, 0); i >= 0 {
			dst = append(dst, f[:i]...)
			f = f[i+1:]
		}
		return hex.AppendEncode(dst, f)
	case kindString:
		if i := bytes.IndexByte(f, 0); i >= 0 {
			f = f[:i]
		}
		return append(dst, f...)
	case kindUint:
		order := e.order
		if order == nil {
			order = littleEndian
		}
		switch len(f) {
		case 1:
			return strconv.AppendUint(dst, uint64(f[0]), 10)
		case 2:
			return strconv.AppendUint(dst, uint64(order.Uint16(f)), 10)
		case 4:
			return strconv.AppendUint(dst, uint64(order.Uint32(f)), 10)
		case 8:
			return strconv.AppendUint(dst, order.Uint64(f), 10)
		}
		return dst
	}
	return hex.AppendEncode(dst, f)
}

// WriteASCII writes every remaining entry of r to w in the kernel's ascii
// form (see Entry.AppendASCII). It returns the number of entries written.
func WriteASCII(w io.Writer, r *Reader) (int, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	var buf []byte
	n := 0
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			bw.Flush()
			return n, err
		}
		buf = e.AppendASCII(buf[:0])
		if _, err := bw.Write(buf); err != nil {
			return n, fmt.Errorf("writing ascii log: %w", err)
		}
		n++
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("writing ascii log: %w", err)
	}
	return n, nil
}

var littleEndian byteOrder = binary.LittleEndian
