package runtimepolicy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"
)

// ErrPolicy reports a runtime policy that cannot be read; a *ReadError
// says where.
var ErrPolicy = errors.New("invalid Keylime runtime policy")

// ReadError names the byte offset, line and member of a runtime policy
// that failed to read.
type ReadError struct {
	Offset int64  // byte offset in the document
	Line   int    // 1-based
	Member string // e.g. digests["/usr/bin/ls"][1]
	Err    error
}

func (e *ReadError) Error() string {
	at := fmt.Sprintf("line %d (byte %d)", e.Line, e.Offset)
	if e.Member != "" {
		at += ": " + e.Member
	}
	return fmt.Sprintf("%s: %v", at, e.Err)
}

func (e *ReadError) Unwrap() error { return e.Err }

// Is makes every ReadError match ErrPolicy.
func (e *ReadError) Is(target error) bool { return target == ErrPolicy }

// Policy is what attest-build takes from a Keylime runtime policy besides
// its digests: the exclude regexes, and how many paths it listed.
type Policy struct {
	// Excludes are the policy's regexes (RE2; Python-only constructs such as
	// look-arounds are refused, never dropped).
	Excludes []string
	// Exclude is the excludes combined as Keylime matches them: joined with
	// "|", anchored at the start of the path only; nil without excludes.
	Exclude *regexp.Regexp
	// Paths is the number of paths of digests.
	Paths int
}

// Read reads a runtime policy from r as a stream, adding the digests of
// each path to al (bare hex digests take their algorithm from their size),
// and returns its excludes. It holds one path and its digests at a time;
// the other members are small and decoded whole. It refuses what Keylime's
// format does not have: members it does not know, a meta.version other
// than 1, a path twice, JSON that does not parse, and anything after the
// document. Every error is a *ReadError (errors.Is ErrPolicy).
func Read(r io.Reader, al *Allowlist) (*Policy, error) {
	return read(&scanner{r: bufio.NewReaderSize(r, 256<<10), line: 1}, al)
}

func read(s *scanner, al *Allowlist) (*Policy, error) {
	p := &Policy{}
	seen := map[string]bool{}
	if err := s.expect('{'); err != nil {
		return nil, err
	}
	for first := true; ; first = false {
		c, err := s.need()
		if err != nil {
			return nil, err
		}
		if c == '}' && first {
			break
		}
		if !first {
			if c == '}' {
				break
			}
			if c != ',' {
				return nil, s.errf("", "want , or } after a member, found %q", c)
			}
			if c, err = s.need(); err != nil {
				return nil, err
			}
		}
		if c != '"' {
			return nil, s.errf("", "want a member name, found %q", c)
		}
		name, err := s.str()
		if err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, s.errf(name, "member appears twice")
		}
		seen[name] = true
		if err := s.expect(':'); err != nil {
			return nil, err
		}
		switch name {
		case "digests":
			if p.Paths, err = s.digests(al); err != nil {
				return nil, err
			}
		case "meta", "excludes", "release", "keyrings", "ima", "ima-buf", "verification-keys":
			raw, err := s.value(name)
			if err != nil {
				return nil, err
			}
			if err := p.member(name, raw); err != nil {
				return nil, s.errf(name, "%v", err)
			}
		default:
			return nil, s.errf(name, "not a member of a Keylime runtime policy")
		}
	}
	if c, err := s.next(); err != io.EOF {
		if err == nil {
			err = s.errf("", "%q after the document", c)
		}
		return nil, err
	}
	if !seen["meta"] {
		return nil, s.errf("meta", "missing (is this a Keylime runtime policy?)")
	}
	al.Compact()
	return p, nil
}

// member decodes one of the small members.
func (p *Policy) member(name string, raw []byte) error {
	switch name {
	case "meta":
		var m struct {
			Version *int `json:"version"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
		if m.Version == nil || *m.Version != Version {
			v := "none"
			if m.Version != nil {
				v = fmt.Sprint(*m.Version)
			}
			return fmt.Errorf("version %s, want %d", v, Version)
		}
	case "excludes":
		if err := json.Unmarshal(raw, &p.Excludes); err != nil {
			return err
		}
		for i, e := range p.Excludes {
			if _, err := regexp.Compile(e); err != nil {
				return fmt.Errorf("[%d] %q does not compile as an RE2 regex: %w", i, e, err)
			}
		}
		if len(p.Excludes) > 0 {
			re, err := regexp.Compile(`^(?:` + strings.Join(p.Excludes, `|`) + `)`)
			if err != nil {
				return fmt.Errorf("combined: %w", err)
			}
			p.Exclude = re
		}
	default: // read and ignored: keyrings, ima-buf, ima, release, verification-keys
		if !json.Valid(raw) {
			return errors.New("not JSON")
		}
	}
	return nil
}

// scanner reads JSON tokens from a stream, counting bytes and lines.
type scanner struct {
	r    *bufio.Reader
	off  int64
	line int
	buf  []byte // reused for strings
	// exact turns off fastMember (for tests: the two must agree).
	exact bool
	// split is the second reading of the document (ReadAt) while it may
	// still be joined; src and size are the document.
	split  *split
	src    io.ReaderAt
	size   int64
	joined int // paths the split read
}

func (s *scanner) errf(member, format string, a ...any) error {
	return s.errAt(s.off, s.line, member, format, a...)
}

// errAt is errf at an earlier position (the start of a path).
func (s *scanner) errAt(off int64, line int, member, format string, a ...any) error {
	return &ReadError{Offset: off, Line: line, Member: member, Err: fmt.Errorf("%w: "+format, append([]any{ErrPolicy}, a...)...)}
}

func (s *scanner) byte() (byte, error) {
	c, err := s.r.ReadByte()
	if err != nil {
		if err == io.EOF {
			return 0, err
		}
		return 0, &ReadError{Offset: s.off, Line: s.line, Err: fmt.Errorf("reading: %w", err)}
	}
	s.off++
	if c == '\n' {
		s.line++
	}
	return c, nil
}

// next returns the next byte that is not JSON white space (io.EOF at the
// end).
func (s *scanner) next() (byte, error) {
	for {
		c, err := s.byte()
		if err != nil {
			return 0, err
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return c, nil
		}
	}
}

// need is next at a place where the document must go on.
func (s *scanner) need() (byte, error) {
	c, err := s.next()
	if err == io.EOF {
		return 0, s.errf("", "the document ends early")
	}
	return c, err
}

func (s *scanner) expect(want byte) error {
	c, err := s.next()
	if err == io.EOF {
		return s.errf("", "the document ends where %q is wanted", want)
	}
	if err != nil {
		return err
	}
	if c != want {
		return s.errf("", "want %q, found %q", want, c)
	}
	return nil
}

// maxString bounds one string (a path, a digest, a regex).
const maxString = 1 << 20

// str reads a JSON string whose opening quote has been read.
func (s *scanner) str() (string, error) {
	b, err := s.strBytes()
	return string(b), err
}

// strBytes reads a JSON string whose opening quote has been read and
// returns its bytes, valid until the next call.
func (s *scanner) strBytes() ([]byte, error) {
	b := s.buf[:0]
	for {
		chunk, err := s.r.ReadSlice('"')
		plain := chunk
		if err == nil {
			plain = chunk[:len(chunk)-1]
		}
		for _, c := range plain {
			if c == '\n' {
				s.line++
			}
		}
		s.off += int64(len(chunk))
		b = append(b, chunk...)
		if len(b) > maxString {
			return nil, s.errf("", "a string longer than %d bytes", maxString)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return nil, s.errf("", "the document ends inside a string")
		}
		// The quote ends the string unless an odd number of backslashes
		// precede it.
		n := 0
		for i := len(b) - 2; i >= 0 && b[i] == '\\'; i-- {
			n++
		}
		if n%2 == 0 {
			break
		}
	}
	s.buf = b
	raw := b[:len(b)-1]
	plain := true
	for _, c := range raw {
		if c < 0x20 {
			return nil, s.errf("", "a control character in a string")
		}
		if c == '\\' || c >= 0x80 {
			plain = false
		}
	}
	if plain {
		return raw, nil
	}
	var out string
	quoted := append(append([]byte{'"'}, raw...), '"')
	if err := json.Unmarshal(quoted, &out); err != nil || !utf8.Valid(raw) {
		return nil, s.errf("", "a string that does not decode: %v", err)
	}
	return []byte(out), nil
}

// value reads one whole JSON value (for the small members) and returns its
// bytes.
func (s *scanner) value(member string) ([]byte, error) {
	var out []byte
	depth := 0
	c, err := s.next()
	for {
		if err == io.EOF {
			return nil, s.errf(member, "the document ends inside the value")
		}
		if err != nil {
			return nil, err
		}
		switch c {
		case '"':
			str, err := s.str()
			if err != nil {
				return nil, err
			}
			b, _ := json.Marshal(str)
			out = append(out, b...)
		case '{', '[':
			depth++
			out = append(out, c)
		case '}', ']':
			depth--
			out = append(out, c)
		default:
			out = append(out, c)
		}
		if len(out) > maxString {
			return nil, s.errf(member, "longer than %d bytes", maxString)
		}
		if depth == 0 {
			// A scalar ends at the next delimiter: peek for it.
			if c == '"' || c == '}' || c == ']' {
				return out, nil
			}
			nb, err := s.r.Peek(1)
			if err != nil || strings.IndexByte(",}] \t\r\n", nb[0]) >= 0 {
				return out, nil
			}
		}
		c, err = s.byte()
	}
}

// digests reads the digests object: path -> array of hex digests.
func (s *scanner) digests(al *Allowlist) (int, error) {
	if err := s.expect('{'); err != nil {
		return 0, err
	}
	paths, start := 0, al.mark()
	var ds []Digest
	var raw, path []byte
	for first := true; ; first = false {
		if s.split != nil {
			n, err := s.join(al, start, first)
			if err != nil {
				return 0, err
			}
			if n > 0 {
				paths += n
				continue
			}
		}
		if !s.exact {
			var ok bool
			if ds, raw, ok = s.fastMember(al, first, start, ds, raw); ok {
				paths++
				continue
			}
		}
		c, err := s.next()
		if err == io.EOF {
			return 0, s.errf("digests", "the document ends inside digests")
		}
		if err != nil {
			return 0, err
		}
		if c == '}' {
			return paths, nil
		}
		if !first {
			if c != ',' {
				return 0, s.errf("digests", "want , or } after a path, found %q", c)
			}
			if c, err = s.next(); err != nil {
				return 0, s.errf("digests", "the document ends inside digests")
			}
		}
		if c != '"' {
			return 0, s.errf("digests", "want a path, found %q", c)
		}
		off, line := s.off-1, s.line
		pb, err := s.strBytes()
		if err != nil {
			return 0, err
		}
		if len(pb) == 0 {
			return 0, s.errf("digests", "an empty path")
		}
		path = append(path[:0], pb...)
		member := func() string { return fmt.Sprintf("digests[%q]", path) } // for errors only
		if err := s.expect(':'); err != nil {
			return 0, err
		}
		if err := s.expect('['); err != nil {
			return 0, err
		}
		ds, raw = ds[:0], raw[:0]
		for i := 0; ; i++ {
			c, err := s.next()
			if err != nil {
				return 0, s.errf(member(), "the document ends inside the list")
			}
			if c == ']' && i == 0 {
				break
			}
			if i > 0 {
				if c == ']' {
					break
				}
				if c != ',' {
					return 0, s.errf(member(), "want , or ] after a digest, found %q", c)
				}
				if c, err = s.next(); err != nil {
					return 0, s.errf(member(), "the document ends inside the list")
				}
			}
			if c != '"' {
				return 0, s.errf(fmt.Sprintf("%s[%d]", member(), i), "want a hex digest, found %q", c)
			}
			hx, err := s.strBytes()
			if err != nil {
				return 0, err
			}
			if cap(raw)-len(raw) < 64 {
				raw = make([]byte, 0, 4096) // earlier digests keep the old array
			}
			d, err := parseDigestInto(hx, raw[len(raw):len(raw)+64])
			if err != nil {
				return 0, s.errf(fmt.Sprintf("%s[%d]", member(), i), "%v", err)
			}
			raw = raw[:len(raw)+len(d.Bytes)]
			ds = append(ds, d)
		}
		if len(ds) == 0 {
			return 0, s.errAt(off, line, member(), "no digest (Keylime would refuse every measurement of the path)")
		}
		dup, err := al.add(path, ds, start)
		if err != nil {
			return 0, s.errAt(off, line, member(), "%v", err)
		}
		if dup {
			return 0, s.errAt(off, line, member(), "the path appears twice")
		}
		paths++
	}
}

// fastMember reads one member of digests, with the comma before it unless
// it is the first, straight from the reader's buffer when the whole member
// is there and in the form Keylime and policy init write:
// "path": ["hex", ...], the path printable ASCII without escapes, each
// digest hex or alg:hex, JSON white space between the tokens. It adds the
// path and returns ok; otherwise it reads nothing, and the exact reader
// reads the member (and names whatever is wrong with it, a path twice
// included). ds and raw are reused storage.
func (s *scanner) fastMember(al *Allowlist, first bool, start int64, ds []Digest, raw []byte) (_ []Digest, _ []byte, ok bool) {
	buf, _ := s.r.Peek(s.r.Buffered())
	if len(buf) < 4096 {
		buf, _ = s.r.Peek(s.r.Size()) // fills what it can; a short buffer is fine
	}
	i, lines := 0, 0
	ws := func() {
		for ; i < len(buf); i++ {
			switch buf[i] {
			case '\n':
				lines++
			case ' ', '\t', '\r':
			default:
				return
			}
		}
	}
	// str reads a string without escapes or control characters after its
	// opening quote at i.
	str := func() []byte {
		if i >= len(buf) || buf[i] != '"' {
			return nil
		}
		n := bytes.IndexByte(buf[i+1:], '"')
		if n <= 0 {
			return nil
		}
		b := buf[i+1 : i+1+n]
		for _, c := range b {
			if c < 0x20 || c >= 0x80 || c == '\\' {
				return nil
			}
		}
		i += n + 2
		return b
	}
	ws()
	if !first {
		if i >= len(buf) || buf[i] != ',' {
			return ds, raw, false
		}
		i++
		ws()
	}
	path := str()
	if path == nil {
		return ds, raw, false
	}
	ws()
	if i >= len(buf) || buf[i] != ':' {
		return ds, raw, false
	}
	i++
	ws()
	if i >= len(buf) || buf[i] != '[' {
		return ds, raw, false
	}
	i++
	ds, raw = ds[:0], raw[:0]
	for {
		ws()
		hx := str()
		if hx == nil {
			return ds, raw, false
		}
		if cap(raw)-len(raw) < 64 {
			raw = make([]byte, 0, max(4096, 2*cap(raw))) // earlier digests keep the old array
		}
		d, err := parseDigestInto(hx, raw[len(raw):len(raw)+64])
		if err != nil {
			return ds, raw, false
		}
		raw = raw[:len(raw)+len(d.Bytes)]
		ds = append(ds, d)
		ws()
		if i >= len(buf) {
			return ds, raw, false
		}
		if buf[i] == ']' {
			i++
			break
		}
		if buf[i] != ',' {
			return ds, raw, false
		}
		i++
	}
	if dup, err := al.add(path, ds, start); dup || err != nil {
		return ds, raw, false
	}
	s.r.Discard(i)
	s.off += int64(i)
	s.line += lines
	return ds, raw, true
}
