package policy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"regexp"
)

// The lines of an ima.allow block in the layout policy init writes (and
// that a reviewer keeps when editing it): "- path: SCALAR" then
// "  digests: [D, D]". A path is double-quoted without escapes, or plain
// and made of characters that mean nothing to YAML; digests are alg:hex or
// hex. Anything else (comments after values, other quoting, block lists,
// anchors) is left to the YAML decoder.
var (
	reIMAKey   = regexp.MustCompile(`^ima:[ ]*(#.*)?$`)
	reAllowKey = regexp.MustCompile(`^( +)allow:[ ]*$`)
)

// blankLine reports a line of spaces, or of spaces and a comment.
func blankLine(l []byte) bool {
	l = bytes.TrimLeft(l, " ")
	return len(l) == 0 || l[0] == '#'
}

// printable reports a line of printable ASCII and tabs.
func printable(l []byte) bool {
	for _, c := range l {
		if (c < 0x20 || c > 0x7e) && c != '\t' {
			return false
		}
	}
	return true
}

// leadingSpaces returns the number of leading spaces of l.
func leadingSpaces(l []byte) int { return len(l) - len(bytes.TrimLeft(l, " ")) }

// pathLine reads `- path: SCALAR` after ind spaces; path is l's storage.
func pathLine(l []byte) (ind int, path []byte, ok bool) {
	ind = leadingSpaces(l)
	rest, found := bytes.CutPrefix(l[ind:], []byte("- path: "))
	rest = bytes.TrimRight(rest, " ")
	if !found || ind == 0 || len(rest) == 0 {
		return 0, nil, false
	}
	if rest[0] == '"' {
		if len(rest) < 2 || rest[len(rest)-1] != '"' {
			return 0, nil, false
		}
		rest = rest[1 : len(rest)-1]
		for _, c := range rest {
			if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
				return 0, nil, false
			}
		}
		return ind, rest, true
	}
	if rest[0] != '/' {
		return 0, nil, false
	}
	for _, c := range rest {
		if !plainPathByte(c) {
			return 0, nil, false
		}
	}
	return ind, rest, true
}

func plainPathByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '/' || c == '+' || c == '@' || c == '-'
}

// digestsLine reads `digests: [D, D]` after ind spaces, appending the
// digests (l's storage) to ds.
func digestsLine(l []byte, ds [][]byte) (ind int, digests [][]byte, ok bool) {
	ind = leadingSpaces(l)
	rest, found := bytes.CutPrefix(l[ind:], []byte("digests: ["))
	rest = bytes.TrimRight(rest, " ")
	if !found || len(rest) < 2 || rest[len(rest)-1] != ']' {
		return 0, ds, false
	}
	rest = rest[:len(rest)-1]
	for {
		d, more, found := bytes.Cut(rest, []byte(", "))
		// yaml.v3 writes alg:hex single-quoted; no quote or escape can be
		// inside one made of these characters.
		quoted := len(d) >= 2 && (d[0] == '\'' && d[len(d)-1] == '\'' || d[0] == '"' && d[len(d)-1] == '"')
		if quoted {
			d = d[1 : len(d)-1]
		}
		if len(d) == 0 {
			return 0, ds, false
		}
		digit := false
		for _, c := range d {
			k := digestChar[c]
			if k == 0 {
				return 0, ds, false
			}
			digit = digit || k == 2
		}
		if !quoted && (d[0] == ':' || d[len(d)-1] == ':' || !digit) {
			// Plain, YAML reads these otherwise: a colon at either end
			// makes a mapping or nothing, and a word without a digit may
			// be null or a boolean (every digest has a digit but by the
			// rarest chance, and then the decoder reads it).
			return 0, ds, false
		}
		ds = append(ds, d)
		if !found {
			return ind, ds, true
		}
		rest = more
	}
}

// digestChar classes the characters of a digest the fast path reads: 2
// for a decimal digit, 1 for a letter or ':', 0 for any other.
var digestChar = func() (t [256]byte) {
	for c := range 256 {
		switch {
		case c >= '0' && c <= '9':
			t[c] = 2
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == ':':
			t[c] = 1
		}
	}
	return t
}()

// errLoneCR is how splitAllow's reading of lines ends at a CR that does
// not end a line.
var errLoneCR = errors.New("a CR inside a line")

// splitAllow reads a policy document from r, finds its ima.allow block
// and, when every line of it is in the layout above, calls item for each of
// its items in order (index, path and digests, valid during the call, and
// the line of its "- path:", 1-based) and writes to rest the document with
// the block's lines emptied (their line ends kept, so that line numbers
// stay right and the YAML decoder reads "allow:" as empty). The block never
// is in memory whole. ok is false when the document has no such block, or
// has a line the fast path does not read exactly (or one longer than r's
// buffer); the caller then forgets what item was given and what rest holds,
// and decodes the whole document with the YAML decoder, which is exact but
// builds a node per scalar (hundreds of MB for 200,000 paths). err is r's.
//
// join, when not nil, is asked before each item of the block after the
// first, with the offset of its line in the document and the items'
// indentation, whether items from there on were read already (a second
// reading, allowSplit): if so, the reading goes on from the offset it
// returns, read by src. It returns keep false when it will take none.
func splitAllow(r *bufio.Reader, rest *bytes.Buffer, item func(i int, path []byte, digests [][]byte, line int), join func(off int64, ind int) (items int, resume int64, src io.Reader, keep bool, err error)) (ok bool, err error) {
	line := 0
	var off int64
	// next returns the next line without its line end, and the line end;
	// eof at the end of the document.
	next := func() (l, end []byte, eof bool, err error) {
		full, err := r.ReadSlice('\n')
		off += int64(len(full))
		switch {
		case err == io.EOF && len(full) == 0:
			return nil, nil, true, nil
		case err != nil && err != io.EOF:
			return nil, nil, false, err
		}
		line++
		// YAML breaks lines at a lone CR too: this reading, which breaks
		// them at LF, would see other lines than the decoder. A CR is
		// only read before the LF or at the end of the document.
		if i := bytes.IndexByte(full, '\r'); i >= 0 && !(i == len(full)-2 && full[i+1] == '\n' || i == len(full)-1) {
			return nil, nil, false, errLoneCR
		}
		l = bytes.TrimRight(full, "\r\n")
		return l, full[len(l):], false, nil
	}
	fail := func(err error) (bool, error) {
		if err == bufio.ErrBufferFull || err == errLoneCR {
			err = nil // a line longer than the buffer, or a lone CR: not the layout
		}
		return false, err
	}
	// kept returns the next line, which it writes to rest whole; done at
	// the end of the document (or on an error, then err).
	kept := func() (l []byte, done bool, err error) {
		l, end, eof, err := next()
		rest.Write(l)
		rest.Write(end)
		return l, eof || err != nil, err
	}
	// The top-level ima: key.
	for {
		l, done, err := kept()
		if done {
			return fail(err)
		}
		if len(l) >= 4 && string(l[:4]) == "ima:" && reIMAKey.Match(l) {
			break
		}
	}
	// Its allow: key, at the indentation of its first child.
	child := -1
	for {
		l, done, err := kept()
		if done {
			return fail(err)
		}
		if blankLine(l) {
			continue
		}
		if l[0] != ' ' {
			return false, nil // the next top-level key: ima's block ended
		}
		ind := leadingSpaces(l)
		if child < 0 {
			child = ind
		}
		if m := reAllowKey.FindSubmatch(l); m != nil && len(m[1]) == child {
			break
		}
	}
	itemInd, n := -1, 0
	var path []byte
	var ds [][]byte
	for {
		if join != nil && itemInd >= 0 {
			items, resume, src, keep, err := join(off, itemInd)
			if err != nil {
				return false, err
			}
			if items > 0 {
				n, line, off = n+items, line+2*items, resume
				for range 2 * items {
					rest.WriteByte('\n') // the items' lines, emptied
				}
				r.Reset(src)
			}
			if !keep {
				join = nil
			}
		}
		l, end, eof, err := next()
		if err != nil {
			return fail(err)
		}
		if eof {
			return true, nil
		}
		if blankLine(l) {
			// Emptied, so it must be what YAML reads as a comment: a
			// character the YAML reader refuses (invalid UTF-8, a control
			// character) is left to it.
			if !printable(l) {
				return false, nil
			}
			rest.Write(end)
			continue
		}
		if ind := leadingSpaces(l); ind <= child {
			if l[ind] == '-' {
				return false, nil // a sequence at allow's own indentation
			}
			// The next key of ima, or a top-level key: the rest is kept.
			rest.Write(l)
			rest.Write(end)
			_, err := r.WriteTo(rest)
			return err == nil, err
		}
		ind, p, ok := pathLine(l)
		if !ok || (itemInd >= 0 && ind != itemInd) {
			return false, nil
		}
		itemInd = ind
		path = append(path[:0], p...) // the next read reuses the buffer
		rest.Write(end)
		at := line
		dl, dend, eof, err := next()
		if eof || err != nil {
			return fail(err)
		}
		var dind int
		if dind, ds, ok = digestsLine(dl, ds[:0]); !ok || dind != itemInd+2 {
			return false, nil
		}
		item(n, path, ds, at)
		n++
		rest.Write(dend)
	}
}
