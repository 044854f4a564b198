// Package strictjson reads JSON one way only, the way every careful reader
// reads it: syntax and UTF-8 checked, no two members of an object whose
// names are equal or equal but for case (at every level), nothing after the
// value, member names matched exactly (case-sensitive) and, where asked,
// unknown members refused.
//
// Go's encoding/json matches member names case-insensitively and takes the
// last of two members with one name; jq, Python and JSON Schema validators
// read the same document differently (the first, or the exact name). A
// document this package accepts has no such member, so every reader sees
// the same values. Checking is linear in the input
// (github.com/go-json-experiment/json's jsontext, which refuses duplicate
// names itself; the case-folded names are kept in one map per object).
package strictjson

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// ErrInvalid matches every error of Check and Unmarshal.
var ErrInvalid = errors.New("invalid JSON")

// Error names where a document breaks the rules: the byte offset and the
// JSON pointer of the value being read.
type Error struct {
	Offset  int64
	Pointer string
	Err     error
}

func (e *Error) Error() string {
	at := e.Pointer
	if at == "" {
		at = "(top level)"
	}
	return fmt.Sprintf("%v at %s, byte %d: %v", ErrInvalid, at, e.Offset, e.Err)
}

func (e *Error) Unwrap() []error { return []error{ErrInvalid, e.Err} }

// Check reads doc as one JSON value and refuses it unless it is valid JSON
// (RFC 8259, valid UTF-8) with nothing but whitespace after it, and no
// object in it has two members whose names are equal once case is folded as
// encoding/json folds it.
func Check(doc []byte) error {
	_, err := CheckFind(doc)
	return err
}

// Span is where a value lies in a document: doc[Start:End] is its raw
// JSON text (quotes included for a string). Found is false when the
// document has no value at the pointer.
type Span struct {
	Start, End int
	Found      bool
}

// CheckFind is Check that, in the same pass, finds the raw values at the
// given JSON pointers (RFC 6901 without escapes, such as "/predicate" or
// "/ima/log/data"), so that a large member can be handed on as a slice of
// doc, unread twice.
func CheckFind(doc []byte, pointers ...string) ([]Span, error) {
	spans := make([]Span, len(pointers))
	maxDepth := 0
	for _, p := range pointers {
		maxDepth = max(maxDepth, strings.Count(p, "/"))
	}
	// Values being found, innermost last: a value at one pointer may hold
	// another's ("/predicate" and "/predicate/ima/log/data").
	type open struct{ i, depth int }
	var pending []open
	err := check(doc, func(d *jsontext.Decoder, isName bool) {
		if isName {
			if d.StackDepth() > maxDepth {
				return
			}
			ptr := string(d.StackPointer())
			for i, p := range pointers {
				if p == ptr && !spans[i].Found {
					at := int(d.InputOffset())
					for at < len(doc) && (doc[at] == ' ' || doc[at] == '\t' || doc[at] == '\r' || doc[at] == '\n' || doc[at] == ':') {
						at++
					}
					spans[i] = Span{Start: at, Found: true}
					pending = append(pending, open{i, d.StackDepth()})
				}
			}
			return
		}
		for len(pending) > 0 {
			top := pending[len(pending)-1]
			if d.StackDepth() != top.depth {
				return
			}
			if _, n := d.StackIndex(top.depth); n%2 != 0 {
				return
			}
			spans[top.i].End = int(d.InputOffset())
			pending = pending[:len(pending)-1]
		}
	})
	if err != nil {
		return nil, err
	}
	return spans, nil
}

// check is Check, calling after for every token read (isName: a member
// name) before the rules move on.
func check(doc []byte, after func(d *jsontext.Decoder, isName bool)) error {
	// A bytes.Buffer is parsed in place, not copied token by token into
	// the decoder's own buffer (a 20 MB string would be held twice).
	d := jsontext.NewDecoder(bytes.NewBuffer(doc))
	// names[i] holds the folded names of the object at depth i+1 once it has
	// more than one member (nil until then).
	var names []map[string]struct{}
	var first []string // the first folded name of the object at each depth
	for {
		off := d.InputOffset()
		tok, err := d.ReadToken()
		if err == io.EOF {
			if d.StackDepth() != 0 || off == 0 && len(bytes.TrimSpace(doc)) == 0 {
				return &Error{Offset: off, Err: io.ErrUnexpectedEOF}
			}
			return nil
		}
		if err != nil {
			return &Error{Offset: off, Pointer: string(d.StackPointer()), Err: err}
		}
		isName := false
		switch tok.Kind() {
		case '{':
			names = append(names, nil)
			first = append(first, "")
		case '}':
			names, first = names[:len(names)-1], first[:len(first)-1]
		case '"':
			depth := d.StackDepth()
			kind, n := d.StackIndex(depth)
			if kind != '{' || n%2 != 1 {
				break // a value, not a member name
			}
			isName = true
			i := len(names) - 1
			f := fold(tok.String())
			switch {
			case n == 1:
				first[i] = f
			case names[i] == nil:
				names[i] = map[string]struct{}{first[i]: {}}
				fallthrough
			default:
				if _, dup := names[i][f]; dup {
					return &Error{Offset: off, Pointer: string(d.StackPointer()), Err: fmt.Errorf("member name %q repeats an earlier name (names are compared exactly and case-folded)", tok.String())}
				}
				names[i][f] = struct{}{}
			}
		}
		if after != nil {
			after(d, isName)
		}
		if d.StackDepth() == 0 {
			if rest := bytes.TrimLeft(doc[d.InputOffset():], " \t\r\n"); len(rest) > 0 {
				return &Error{Offset: int64(len(doc) - len(rest)), Err: errors.New("data after the JSON value")}
			}
			return nil
		}
	}
}

// fold returns s case-folded as encoding/json folds member names
// (appendFoldedName: ASCII letters to upper case, other runes to the upper
// case of their lower case), so that two names are equal for it exactly
// when their folds are equal.
func fold(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		switch {
		case 'a' <= r && r <= 'z':
			b = append(b, byte(r-'a'+'A'))
		case r < utf8.RuneSelf:
			b = append(b, byte(r))
		default:
			b = utf8.AppendRune(b, unicode.ToUpper(unicode.ToLower(r)))
		}
	}
	return string(b)
}

// Unmarshal checks doc (Check) and decodes it into v with member names
// matched exactly and unknown members refused at every level of v's type.
func Unmarshal(doc []byte, v any) error {
	if err := Check(doc); err != nil {
		return err
	}
	if err := json.Unmarshal(doc, v, json.RejectUnknownMembers(true)); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// UnmarshalKnown is Unmarshal without refusing unknown members: for
// documents whose format allows members this program does not read.
func UnmarshalKnown(doc []byte, v any) error {
	if err := Check(doc); err != nil {
		return err
	}
	if err := json.Unmarshal(doc, v); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}
