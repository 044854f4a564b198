package policy

import (
	"bytes"
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
		if len(d) >= 2 && (d[0] == '\'' && d[len(d)-1] == '\'' || d[0] == '"' && d[len(d)-1] == '"') {
			d = d[1 : len(d)-1]
		} else if len(d) > 0 && (d[0] == ':' || d[len(d)-1] == ':' || bytes.IndexAny(d, "0123456789") < 0) {
			// Plain, YAML reads these otherwise: a colon at either end
			// makes a mapping or nothing, and a word without a digit may
			// be null or a boolean (every digest has a digit but by the
			// rarest chance, and then the decoder reads it).
			return 0, ds, false
		}
		if len(d) == 0 {
			return 0, ds, false
		}
		for _, c := range d {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ':') {
				return 0, ds, false
			}
		}
		ds = append(ds, d)
		if !found {
			return ind, ds, true
		}
		rest = more
	}
}

// splitAllow finds the ima.allow block of a policy document and, when
// every line of it is in the layout above, calls item for each of its
// items in order (index, path and digests in data's storage, valid during
// the call, and the line of its "- path:", 1-based) and returns data with
// the block's lines emptied (their line ends kept, so that line numbers
// stay right and the YAML decoder reads "allow:" as empty), in data's
// storage. ok is false, and data unchanged, when the document has no such
// block or a line the fast path does not read exactly; the caller then
// forgets what item was given, and decodes the whole document with the
// YAML decoder, which is exact but builds a node per scalar (hundreds of
// MB for 200,000 paths).
func splitAllow(data []byte, item func(i int, path []byte, digests [][]byte, line int)) (rest []byte, ok bool) {
	// lineAt returns the line at off without its line end, and the offset
	// of the next.
	lineAt := func(off int) (l []byte, next int) {
		next = len(data)
		if n := bytes.IndexByte(data[off:], '\n'); n >= 0 {
			next = off + n + 1
		}
		return bytes.TrimRight(data[off:next], "\r\n"), next
	}
	// The top-level ima: key, and the indentation of its children.
	off, line := 0, 1
	found := false
	for off < len(data) {
		l, next := lineAt(off)
		off, line = next, line+1
		if len(l) >= 4 && string(l[:4]) == "ima:" && reIMAKey.Match(l) {
			found = true
			break
		}
	}
	if !found {
		return data, false
	}
	child := -1
	found = false
	for off < len(data) {
		l, next := lineAt(off)
		if blankLine(l) {
			off, line = next, line+1
			continue
		}
		if l[0] != ' ' {
			break // the next top-level key: ima's block ended
		}
		off, line = next, line+1
		ind := leadingSpaces(l)
		if child < 0 {
			child = ind
		}
		if m := reAllowKey.FindSubmatch(l); m != nil && len(m[1]) == child {
			found = true
			break
		}
	}
	if !found {
		return data, false
	}
	start, end := off, off // the block: the lines after allow:
	itemInd, n := -1, 0
	var ds [][]byte
	for end < len(data) {
		l, next := lineAt(end)
		if blankLine(l) {
			// Emptied, so it must be what YAML reads as a comment: a
			// character the YAML reader refuses (invalid UTF-8, a control
			// character) is left to it.
			if !printable(l) {
				return data, false
			}
			end, line = next, line+1
			continue
		}
		if ind := leadingSpaces(l); ind <= child {
			if l[ind] == '-' {
				return data, false // a sequence at allow's own indentation
			}
			break // the next key of ima, or a top-level key
		}
		ind, path, ok := pathLine(l)
		if !ok || (itemInd >= 0 && ind != itemInd) || next >= len(data) {
			return data, false
		}
		itemInd = ind
		dl, after := lineAt(next)
		var dind int
		if dind, ds, ok = digestsLine(dl, ds[:0]); !ok || dind != itemInd+2 {
			return data, false
		}
		item(n, path, ds, line)
		n++
		end, line = after, line+2
	}
	// Empty the block's lines, keeping each line's end.
	w := start
	for off := start; off < end; {
		l, next := lineAt(off)
		w += copy(data[w:], data[off+len(l):next])
		off = next
	}
	w += copy(data[w:], data[end:])
	return data[:w], true
}
