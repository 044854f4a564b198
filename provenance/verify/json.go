package verify

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"

	fastb64 "github.com/segmentio/asm/base64"

	"github.com/attest-build/attest-build/internal/hugepage"
	"github.com/attest-build/attest-build/internal/strictjson"
)

// The attestation's JSON is read by hand where it is large: a 200,000-entry
// IMA log makes a DSSE payload of 26 MB of base64 holding a statement whose
// predicate.ima.log.data is 20 MB of base64 again. encoding/json would scan
// each of those strings twice and keep every layer whole; here the payload
// is base64-decoded as it is read (the decoded statement is the one copy
// kept, for the signature), the statement is split into members with a
// byte search for string ends, and the small members are decoded with
// encoding/json, which also checks their syntax. The log's base64 is handed
// to the replay as a slice of the statement and decoded as a stream.

// envelope is one DSSE envelope as read: the payload decoded, the rest as
// found. Nothing in it is trusted.
type envelope struct {
	line        int
	payloadType string
	payload     []byte
	signatures  []envelopeSignature
	// parsed is the payload as a statement, when the signature check
	// parsed it already (a TPM-resident signer's TPM/IMA statement).
	parsed *stmt
	// sum is the payload's SHA-256, hashed on another goroutine from the
	// signature check on (while the PAE is hashed), for the SLSA
	// byproducts check.
	sum *payloadSum
}

// payloadSum is a payload's SHA-256, computed on its own goroutine.
type payloadSum struct {
	done chan struct{}
	sum  [sha256.Size]byte
}

// hashPayload starts hashing b; get waits for the sum.
func hashPayload(b []byte) *payloadSum {
	p := &payloadSum{done: make(chan struct{})}
	go func() {
		p.sum = sha256.Sum256(b)
		close(p.done)
	}()
	return p
}

func (p *payloadSum) get() [sha256.Size]byte {
	<-p.done
	return p.sum
}

type envelopeSignature struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}

// maxEnvelopeMember caps an envelope member other than the payload
// (payloadType, signatures, unknown members).
const maxEnvelopeMember = 1 << 20

// errAttestationTooLarge ends reading past the attestation size limit.
var errAttestationTooLarge = errors.New("attestation over the size limit")

// limitedReader returns errAttestationTooLarge once more than max bytes
// were read, and counts them.
type limitedReader struct {
	r    io.Reader
	max  int64
	read int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.read > l.max {
		return 0, errAttestationTooLarge
	}
	if rest := l.max + 1 - l.read; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := l.r.Read(p)
	l.read += int64(n)
	if l.read > l.max {
		return n, errAttestationTooLarge
	}
	return n, err
}

// sourceError is a failure of the underlying reader (not of the bytes it
// gave): the attestation could not be read.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return "reading attestation: " + e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

// envelopeReader reads DSSE envelopes, one JSON object per line.
type envelopeReader struct {
	br   *bufio.Reader
	src  *limitedReader
	size int64 // the source's size when known, else 0
	line int   // 1-based line of the next byte
}

// newEnvelopeReader reads at most max bytes of r; size is r's size when
// known (sizeHint), to allocate each payload once.
func newEnvelopeReader(r io.Reader, max, size int64) *envelopeReader {
	src := &limitedReader{r: r, max: max}
	return &envelopeReader{br: bufio.NewReaderSize(src, 256<<10), src: src, size: min(size, max), line: 1}
}

// sizeHint returns the size of r's content when r knows it, else 0.
func sizeHint(r io.Reader) int64 {
	switch s := r.(type) {
	case interface{ Len() int }: // bytes.Reader, strings.Reader
		return int64(s.Len())
	case interface{ Stat() (fs.FileInfo, error) }:
		if fi, err := s.Stat(); err == nil && fi.Mode().IsRegular() {
			return fi.Size()
		}
	}
	return 0
}

// decodedLen is the length of the bytes that padded base64 text b64 holds.
func decodedLen(b64 []byte) int {
	n := len(b64) / 4 * 3
	for i := len(b64) - 1; i >= 0 && i >= len(b64)-2 && b64[i] == '='; i-- {
		n--
	}
	return max(n, 0)
}

// readErr classifies a read error: too large, the source's failure, or
// input that ends early.
func (er *envelopeReader) readErr(err error, what string) error {
	switch {
	case errors.Is(err, errAttestationTooLarge), errors.Is(err, ErrMalformed), errors.Is(err, ErrTooLarge):
		return err
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: line %d: %s: unexpected end of input", ErrMalformed, er.line, what)
	case err == bufio.ErrBufferFull:
		return fmt.Errorf("%w: line %d: %s: too long", ErrTooLarge, er.line, what)
	}
	return &sourceError{err}
}

func (er *envelopeReader) malformed(format string, args ...any) error {
	return fmt.Errorf("%w: line %d: %s", ErrMalformed, er.line, fmt.Sprintf(format, args...))
}

// skipSpace skips JSON whitespace; newlines only between envelopes.
func (er *envelopeReader) skipSpace(newlines bool) (byte, error) {
	for {
		c, err := er.br.ReadByte()
		if err != nil {
			return 0, err
		}
		switch c {
		case ' ', '\t', '\r':
			continue
		case '\n':
			if !newlines {
				return 0, er.malformed("an envelope spans lines (one JSON envelope per line)")
			}
			er.line++
			continue
		}
		return c, nil
	}
}

// next reads the next envelope, or returns io.EOF after the last.
func (er *envelopeReader) next() (*envelope, error) {
	c, err := er.skipSpace(true)
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, er.readErr(err, "envelope")
	}
	if c != '{' {
		return nil, er.malformed("not a JSON object")
	}
	env := &envelope{line: er.line}
	seen := map[string]bool{}
	for first := true; ; first = false {
		c, err := er.skipSpace(false)
		if err != nil {
			return nil, er.readErr(err, "envelope")
		}
		if c == '}' && first {
			break
		}
		if c != '"' {
			return nil, er.malformed("expected a member name")
		}
		if err := er.br.UnreadByte(); err != nil {
			return nil, err
		}
		var key string
		if err := er.readSmall("member name", &key); err != nil {
			return nil, err
		}
		if seen[key] {
			return nil, er.malformed("member %q twice", key)
		}
		seen[key] = true
		if c, err := er.skipSpace(false); err != nil || c != ':' {
			if err != nil {
				return nil, er.readErr(err, key)
			}
			return nil, er.malformed("expected ':' after %q", key)
		}
		switch key {
		case "payload":
			if env.payload, err = er.readPayload(); err != nil {
				return nil, err
			}
		case "payloadType":
			err = er.readSmall(key, &env.payloadType)
		case "signatures":
			err = er.readSmall(key, &env.signatures)
		default:
			// DSSE envelopes have these three members. Another name
			// (such as "Payload", which encoding/json would read as the
			// payload) could be read differently by another verifier.
			return nil, er.malformed("unknown envelope member %q", key)
		}
		if err != nil {
			return nil, err
		}
		c, err = er.skipSpace(false)
		if err != nil {
			return nil, er.readErr(err, "envelope")
		}
		if c == '}' {
			break
		}
		if c != ',' {
			return nil, er.malformed("expected ',' or '}' after %q", key)
		}
	}
	if !seen["payload"] {
		return nil, er.malformed("no payload")
	}
	// The rest of the line must be blank.
	for {
		c, err := er.br.ReadByte()
		if err == io.EOF {
			return env, nil
		}
		if err != nil {
			return nil, er.readErr(err, "envelope")
		}
		switch c {
		case ' ', '\t', '\r':
			continue
		case '\n':
			er.line++
			return env, nil
		}
		return nil, er.malformed("more after the envelope on its line")
	}
}

// readSmall reads one JSON value of at most maxEnvelopeMember bytes and
// decodes it into v with encoding/json (which checks its syntax).
func (er *envelopeReader) readSmall(what string, v any) error {
	c, err := er.skipSpace(false)
	if err != nil {
		return er.readErr(err, what)
	}
	raw := []byte{c}
	depth, inString, escaped := 0, c == '"', false
	switch c {
	case '{', '[':
		depth = 1
	case '"':
	default: // a number or a literal: read to its end
		for {
			b, err := er.br.ReadByte()
			if err != nil {
				return er.readErr(err, what)
			}
			if bytes.IndexByte([]byte(",}] \t\r\n"), b) >= 0 {
				if err := er.br.UnreadByte(); err != nil {
					return err
				}
				break
			}
			raw = append(raw, b)
			if len(raw) > maxEnvelopeMember {
				return fmt.Errorf("%w: line %d: %s over %d bytes", ErrTooLarge, er.line, what, maxEnvelopeMember)
			}
		}
		return er.decodeSmall(what, raw, v)
	}
	for inString || depth > 0 {
		b, err := er.br.ReadByte()
		if err != nil {
			return er.readErr(err, what)
		}
		raw = append(raw, b)
		if len(raw) > maxEnvelopeMember {
			return fmt.Errorf("%w: line %d: %s over %d bytes", ErrTooLarge, er.line, what, maxEnvelopeMember)
		}
		switch {
		case inString && escaped:
			escaped = false
		case inString && b == '\\':
			escaped = true
		case inString && b == '"':
			inString = false
		case inString && b == '\n':
			return er.malformed("%s: a newline in a string", what)
		case inString:
		case b == '"':
			inString = true
		case b == '{' || b == '[':
			depth++
		case b == '}' || b == ']':
			depth--
		}
	}
	return er.decodeSmall(what, raw, v)
}

// decodeSmall decodes with exact member names, unknown members (such as
// "Sig", which encoding/json would read as "sig") and duplicates refused.
func (er *envelopeReader) decodeSmall(what string, raw []byte, v any) error {
	if err := strictjson.Unmarshal(raw, v); err != nil {
		return er.malformed("%s: %v", what, err)
	}
	return nil
}

// readPayload reads the payload string and returns it base64-decoded
// (standard or URL alphabet, padded, as go-securesystemslib accepts),
// decoding as it reads so that the base64 text is never held whole.
func (er *envelopeReader) readPayload() ([]byte, error) {
	c, err := er.skipSpace(false)
	if err != nil {
		return nil, er.readErr(err, "payload")
	}
	if c != '"' {
		return nil, er.malformed("payload: not a string")
	}
	var out []byte
	if rest := er.size - er.src.read + int64(er.br.Buffered()); rest > 0 {
		out = make([]byte, 0, base64.StdEncoding.DecodedLen(int(rest)))
		hugepage.Advise(out) // one fault per 2 MiB as it is decoded into
	}
	d := b64Stream{out: out}
	for {
		chunk, err := er.br.ReadSlice('"')
		end := err == nil
		if err != nil && err != bufio.ErrBufferFull {
			return nil, er.readErr(err, "payload")
		}
		if end {
			chunk = chunk[:len(chunk)-1]
		}
		if err := d.write(chunk); err != nil {
			return nil, er.malformed("payload: %v", err)
		}
		if end {
			break
		}
	}
	body, err := d.close()
	if err != nil {
		return nil, er.malformed("payload: %v", err)
	}
	if cap(body)-len(body) > 1<<20 && cap(body)-len(body) > len(body)/8 {
		body = bytes.Clone(body) // the size hint was for a larger payload
	}
	return body, nil
}

// b64Stream decodes padded base64 written in pieces: the standard
// alphabet, or the URL one when the standard one fails and no '+' or '/'
// was seen. A JSON escape or a raw line break in the text is refused (the
// base64 decoders would skip the line break).
//
// The text is not scanned for those bytes ahead of decoding: neither
// alphabet holds a backslash, so the decoders refuse it; a line break they
// skip shortens the decoded bytes by at least a quantum (the decoders
// take only whole padded quanta), which decode checks. The failure path
// names the byte.
type b64Stream struct {
	url    bool // decoding the URL alphabet
	out    []byte
	carry  [4]byte
	nc     int
	padded bool // a quantum with '=' was decoded: nothing may follow
}

func (d *b64Stream) write(p []byte) error {
	if d.nc > 0 {
		k := copy(d.carry[d.nc:], p)
		d.nc += k
		p = p[k:]
		if d.nc < 4 {
			return nil
		}
		if err := d.decode(d.carry[:]); err != nil {
			return err
		}
		d.nc = 0
	}
	whole := len(p) &^ 3
	if whole > 0 {
		if err := d.decode(p[:whole]); err != nil {
			return err
		}
	}
	d.nc = copy(d.carry[:], p[whole:])
	return nil
}

// refusedByte returns an error naming a JSON escape or line break in q,
// or nil.
func refusedByte(q []byte) error {
	for _, bad := range []byte{'\\', '\n', '\r'} {
		if bytes.IndexByte(q, bad) >= 0 {
			return fmt.Errorf("byte %q in base64 text (JSON escapes and line breaks are not accepted)", bad)
		}
	}
	return nil
}

// decode decodes q, a whole number of quanta, after what was decoded.
func (d *b64Stream) decode(q []byte) error {
	if d.padded {
		return errors.New("base64 text after padding")
	}
	n := len(d.out)
	full := len(q) / 4 * 3
	d.out = slices.Grow(d.out, full)[:n+full] // no zeroing: Decode writes it
	var m int
	var err error
	if !d.url {
		m, err = decodeStdBase64(d.out[n:], q)
		// The URL alphabet only while no '+' or '/' was decoded: in the
		// bytes before q (the standard decoder's, sextets 62 and 63) and
		// in q.
		if err != nil && refusedByte(q) == nil && !bytes.ContainsAny(q, "+/") && !hasStdOnlySextets(d.out[:n]) {
			d.url = true // encoding/base64: segmentio's URL decoder also accepts '/'
		}
	}
	if d.url {
		m, err = base64.URLEncoding.Decode(d.out[n:], q)
	}
	if err == nil && m < full-2 {
		// Bytes the decoder skipped: at least a quantum's worth, more
		// than padding accounts for.
		err = errors.New("bytes skipped")
	}
	if err != nil {
		if rerr := refusedByte(q); rerr != nil {
			return rerr
		}
		return fmt.Errorf("invalid base64: %w", err)
	}
	d.padded = q[len(q)-1] == '='
	d.out = d.out[:n+m]
	return nil
}

// hasStdOnlySextets reports whether b, decoded from whole unpadded
// quanta, encodes a sextet of 62 or 63: '+' or '/' in the standard
// alphabet, characters the URL alphabet does not have.
func hasStdOnlySextets(b []byte) bool {
	for i := 0; i+3 <= len(b); i += 3 {
		v := uint32(b[i])<<16 | uint32(b[i+1])<<8 | uint32(b[i+2])
		for s := 0; s < 24; s += 6 {
			if v>>s&63 >= 62 {
				return true
			}
		}
	}
	return false
}

func (d *b64Stream) close() ([]byte, error) {
	if d.nc != 0 {
		return nil, errors.New("base64 text not a multiple of 4 characters")
	}
	if d.out == nil {
		d.out = []byte{}
	}
	return d.out, nil
}

// jsonMember is one member of a JSON object: its name and the raw bytes of
// its value, at [start, end) of the object's document.
type jsonMember struct {
	name       string
	value      []byte
	start, end int
}

// jsonObject splits the object at doc[at:] (after whitespace) into its
// members, refusing a name given twice. Values are delimited, not checked:
// the caller decodes them with encoding/json, or checks them itself. It
// returns the offset after the object.
func jsonObject(doc []byte, at int) ([]jsonMember, int, error) {
	i := skipJSONSpace(doc, at)
	if i >= len(doc) || doc[i] != '{' {
		return nil, 0, errors.New("not a JSON object")
	}
	i = skipJSONSpace(doc, i+1)
	var members []jsonMember
	if i < len(doc) && doc[i] == '}' {
		return members, i + 1, nil
	}
	for {
		if i >= len(doc) || doc[i] != '"' {
			return nil, 0, fmt.Errorf("offset %d: expected a member name", i)
		}
		end, err := skipJSONString(doc, i)
		if err != nil {
			return nil, 0, err
		}
		var name string
		if err := json.Unmarshal(doc[i:end], &name); err != nil {
			return nil, 0, fmt.Errorf("offset %d: member name: %w", i, err)
		}
		for _, m := range members {
			if m.name == name {
				return nil, 0, fmt.Errorf("member %q twice", name)
			}
		}
		i = skipJSONSpace(doc, end)
		if i >= len(doc) || doc[i] != ':' {
			return nil, 0, fmt.Errorf("offset %d: expected ':' after %q", i, name)
		}
		start := skipJSONSpace(doc, i+1)
		vend, err := skipJSONValue(doc, start)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", name, err)
		}
		members = append(members, jsonMember{name: name, value: doc[start:vend], start: start, end: vend})
		i = skipJSONSpace(doc, vend)
		if i < len(doc) && doc[i] == '}' {
			return members, i + 1, nil
		}
		if i >= len(doc) || doc[i] != ',' {
			return nil, 0, fmt.Errorf("offset %d: expected ',' or '}' after %q", i, name)
		}
		i = skipJSONSpace(doc, i+1)
	}
}

func member(ms []jsonMember, name string) (jsonMember, bool) {
	for _, m := range ms {
		if m.name == name {
			return m, true
		}
	}
	return jsonMember{}, false
}

func skipJSONSpace(doc []byte, i int) int {
	for i < len(doc) && (doc[i] == ' ' || doc[i] == '\t' || doc[i] == '\r' || doc[i] == '\n') {
		i++
	}
	return i
}

// skipJSONString returns the offset after the string that starts at
// doc[i] ('"'), finding its end with a byte search.
func skipJSONString(doc []byte, i int) (int, error) {
	j := i + 1
	for {
		k := bytes.IndexByte(doc[j:], '"')
		if k < 0 {
			return 0, fmt.Errorf("offset %d: unterminated string", i)
		}
		j += k
		bs := 0 // backslashes before the quote: odd escapes it
		for bs < j-i-1 && doc[j-1-bs] == '\\' {
			bs++
		}
		j++
		if bs%2 == 0 {
			return j, nil
		}
	}
}

// skipJSONValue returns the offset after the value that starts at doc[i].
func skipJSONValue(doc []byte, i int) (int, error) {
	if i >= len(doc) {
		return 0, errors.New("unexpected end of JSON")
	}
	switch doc[i] {
	case '"':
		return skipJSONString(doc, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(doc); j++ {
			switch doc[j] {
			case '"':
				end, err := skipJSONString(doc, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, fmt.Errorf("offset %d: unterminated %c", i, doc[i])
	}
	j := i
	for j < len(doc) && bytes.IndexByte([]byte(",}] \t\r\n"), doc[j]) < 0 {
		j++
	}
	if j == i {
		return 0, fmt.Errorf("offset %d: expected a value", i)
	}
	return j, nil
}

// b64Reader decodes padded standard base64 text, checked beforehand to
// hold no line break (which encoding/base64 would skip). Reads of fewer
// than 3 bytes are served from one decoded quantum. An error comes with no
// bytes and again on every later read, so that a caller which stops early
// (io.ReadFull once it has what it asked for) cannot lose it; consumed
// tells whether the whole text was decoded.
type b64Reader struct {
	text    []byte
	off     int // characters decoded
	err     error
	pending []byte // decoded bytes of a quantum not yet read
	quantum [3]byte
}

func (r *b64Reader) Read(p []byte) (int, error) {
	if len(r.pending) > 0 {
		n := copy(p, r.pending)
		r.pending = r.pending[n:]
		return n, nil
	}
	if r.err != nil {
		return 0, r.err
	}
	if len(r.text) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if len(p) < 3 {
		n, err := r.Read(r.quantum[:])
		if err != nil {
			return 0, err
		}
		r.pending = r.quantum[:n]
		m := copy(p, r.pending)
		r.pending = r.pending[m:]
		return m, nil
	}
	n := min(len(p)/3*4, len(r.text))
	chunk := r.text[:n]
	m, err := decodeStdBase64(p, chunk)
	if err == nil && chunk[len(chunk)-1] == '=' && n < len(r.text) {
		err = errors.New("text after padding")
	}
	if err != nil {
		r.err = fmt.Errorf("ima.log.data base64, characters from %d: %w", r.off, err)
		r.text = nil
		return 0, r.err
	}
	r.text, r.off = r.text[n:], r.off+n
	return m, nil
}

// consumed reports whether the whole text was decoded and read, with no
// error.
func (r *b64Reader) consumed() bool {
	return r.err == nil && len(r.text) == 0 && len(r.pending) == 0
}

// decodeStdBase64 decodes padded standard base64 with segmentio/asm's SIMD
// decoder; text it refuses is decoded again by encoding/base64, whose
// error (and offset) is returned.
func decodeStdBase64(dst, src []byte) (int, error) {
	n, err := fastb64.StdEncoding.Decode(dst, src)
	if err != nil {
		return base64.StdEncoding.Decode(dst, src)
	}
	return n, nil
}
