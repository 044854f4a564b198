package policy

import (
	"bytes"
	"regexp"
)

// allowItem is one ima.allow item read by the fast path: its path and
// digests as written, and the line of its "- path:" (1-based).
type allowItem struct {
	path    string
	digests []string
	line    int
}

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

// leadingSpaces returns the number of leading spaces of l.
func leadingSpaces(l []byte) int { return len(l) - len(bytes.TrimLeft(l, " ")) }

// pathLine reads `- path: SCALAR` after ind spaces.
func pathLine(l []byte) (ind int, path string, ok bool) {
	ind = leadingSpaces(l)
	rest, found := bytes.CutPrefix(l[ind:], []byte("- path: "))
	rest = bytes.TrimRight(rest, " ")
	if !found || ind == 0 || len(rest) == 0 {
		return 0, "", false
	}
	if rest[0] == '"' {
		if len(rest) < 2 || rest[len(rest)-1] != '"' {
			return 0, "", false
		}
		rest = rest[1 : len(rest)-1]
		for _, c := range rest {
			if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
				return 0, "", false
			}
		}
		return ind, string(rest), true
	}
	if rest[0] != '/' {
		return 0, "", false
	}
	for _, c := range rest {
		if !plainPathByte(c) {
			return 0, "", false
		}
	}
	return ind, string(rest), true
}

func plainPathByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || bytes.IndexByte([]byte("._/+@-"), c) >= 0
}

// digestsLine reads `digests: [D, D]` after ind spaces.
func digestsLine(l []byte) (ind int, digests []string, ok bool) {
	ind = leadingSpaces(l)
	rest, found := bytes.CutPrefix(l[ind:], []byte("digests: ["))
	rest = bytes.TrimRight(rest, " ")
	if !found || len(rest) < 2 || rest[len(rest)-1] != ']' {
		return 0, nil, false
	}
	for _, d := range bytes.Split(rest[:len(rest)-1], []byte(", ")) {
		// yaml.v3 writes alg:hex single-quoted; no quote or escape can be
		// inside one made of these characters.
		if len(d) >= 2 && (d[0] == '\'' && d[len(d)-1] == '\'' || d[0] == '"' && d[len(d)-1] == '"') {
			d = d[1 : len(d)-1]
		}
		if len(d) == 0 {
			return 0, nil, false
		}
		for _, c := range d {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ':') {
				return 0, nil, false
			}
		}
		digests = append(digests, string(d))
	}
	return ind, digests, true
}

// splitAllow finds the ima.allow block of a policy document and, when
// every line of it is in the layout above, returns its items and blanks
// the block's item lines in data (spaces, newlines kept, so that line
// numbers stay right and the YAML decoder reads "allow:" as empty). ok is
// false, and data unchanged, when the document has no such block or a
// line the fast path does not read exactly; the caller then decodes the
// whole document with the YAML decoder, which is exact but builds a node
// per scalar (hundreds of MB for 200,000 paths).
func splitAllow(data []byte) (items []allowItem, ok bool) {
	// lines[i] is the offset of line i+1.
	starts := make([]int, 0, bytes.Count(data, []byte("\n"))+1)
	for off := 0; off < len(data); {
		starts = append(starts, off)
		n := bytes.IndexByte(data[off:], '\n')
		if n < 0 {
			break
		}
		off += n + 1
	}
	line := func(i int) []byte {
		end := len(data)
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		return bytes.TrimRight(data[starts[i]:end], "\r\n")
	}
	// The top-level ima: key, and the indentation of its children.
	ima := -1
	for i := range starts {
		if l := line(i); len(l) >= 4 && string(l[:4]) == "ima:" && reIMAKey.Match(l) {
			ima = i
			break
		}
	}
	if ima < 0 {
		return nil, false
	}
	child, allow := -1, -1
	for i := ima + 1; i < len(starts); i++ {
		l := line(i)
		if blankLine(l) {
			continue
		}
		if l[0] != ' ' {
			break // the next top-level key: ima's block ended
		}
		ind := leadingSpaces(l)
		if child < 0 {
			child = ind
		}
		if m := reAllowKey.FindSubmatch(l); m != nil && len(m[1]) == child {
			allow = i
			break
		}
	}
	if allow < 0 {
		return nil, false
	}
	end := allow + 1
	itemInd := -1
	items = make([]allowItem, 0, (len(starts)-end)/2)
	for ; end < len(starts); end++ {
		l := line(end)
		if blankLine(l) {
			continue
		}
		if ind := leadingSpaces(l); ind <= child {
			if l[ind] == '-' {
				return nil, false // a sequence at allow's own indentation
			}
			break // the next key of ima, or a top-level key
		}
		ind, path, ok := pathLine(l)
		if !ok || (itemInd >= 0 && ind != itemInd) || end+1 >= len(starts) {
			return nil, false
		}
		itemInd = ind
		dind, ds, ok := digestsLine(line(end + 1))
		if !ok || dind != itemInd+2 {
			return nil, false
		}
		items = append(items, allowItem{path: path, digests: ds, line: end + 1})
		end++
	}
	for i := allow + 1; i < end; i++ {
		l := line(i)
		for j := range l {
			l[j] = ' '
		}
	}
	return items, true
}
