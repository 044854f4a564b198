// Package pathglob is attest-build's one dialect of path patterns, used for
// artifact patterns (build -a), the policy's IMA path patterns (ima.allow
// paths, ima.exclude, ima.deny) and its source ref patterns (source.refs).
//
// The dialect is github.com/bmatcuk/doublestar/v4's, with "**" only as a
// whole path element (docs/policy.md#patterns):
//
//	pattern   matches
//	x*y       any run of characters other than "/" (also none) for the star
//	x?y       one character other than "/" for the question mark
//	[abc]     one character of the class; ranges [a-z]; negated [!a-z] or
//	          [^a-z]; never "/" (a class naming "/" is refused)
//	{a,b}     one of the comma-separated alternatives (they may nest)
//	a/**/b    "**" as a whole element ("/**/", a leading "**/" or a
//	          trailing "/**"): any number of path elements, none included
//	\c        the character c itself (\*, \?, \[, \{, \}, \\)
//
// Everything else is literal and the whole name must match. A pattern is
// checked when it is compiled (Compile), so that a bad one is refused when the
// policy or the flags are read, never silently treated as matching nothing.
package pathglob

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/bmatcuk/doublestar/v4"
)

// ErrBadPattern reports a pattern outside the dialect; the error wrapping it
// says what is wrong.
var ErrBadPattern = errors.New("bad pattern")

// MetaChars are the characters with a meaning in a pattern: a name holding
// none of them is a pattern that matches only itself.
const MetaChars = `*?[]{}\`

// Pattern is a checked pattern. The zero Pattern matches only "".
type Pattern struct {
	s   string // as written
	m   string // as matched: negated classes also exclude "/" (classes)
	lit string // the name matched, when literal
	// literal: no wildcard, class or alternative; Match compares bytes.
	literal bool
}

// Compile checks s and returns it as a Pattern, or an error wrapping
// ErrBadPattern that says what is wrong and how to write it.
func Compile(s string) (Pattern, error) {
	if s == "" {
		return Pattern{}, fmt.Errorf("%w: empty pattern", ErrBadPattern)
	}
	if !doublestar.ValidatePattern(s) {
		return Pattern{}, fmt.Errorf("%w %q: %s", ErrBadPattern, s, malformed(s))
	}
	if i := midDoubleStar(s); i >= 0 {
		return Pattern{}, fmt.Errorf("%w %q: ** must be a whole path element (at byte %d; write dir/**/*.so, not dir/**.so)", ErrBadPattern, s, i)
	}
	if lit, ok := literal(s); ok {
		return Pattern{s: s, m: s, lit: lit, literal: true}, nil
	}
	// doublestar compares runes: every invalid byte decodes to U+FFFD, so
	// "\xb5" would match "\xd3", and U+FFFD itself every invalid byte.
	if !utf8.ValidString(s) {
		return Pattern{}, fmt.Errorf("%w %q: not valid UTF-8 (only a pattern without wildcards may hold other bytes)", ErrBadPattern, s)
	}
	if i := strings.IndexRune(s, utf8.RuneError); i >= 0 {
		return Pattern{}, fmt.Errorf("%w %q: U+FFFD at byte %d would match any byte that is not UTF-8 (write ? for one character)", ErrBadPattern, s, i)
	}
	m, err := classes(s)
	if err != nil {
		return Pattern{}, fmt.Errorf("%w %q: %w", ErrBadPattern, s, err)
	}
	return Pattern{s: s, m: m}, nil
}

// classes keeps every class to one character other than "/", as "*" and
// "?" are (doublestar lets a class match "/": "[!a]" matches it): a
// negated class is matched with "/" added to it, and a class that names
// "/" (itself, or in a range) is refused. It returns the pattern to match.
func classes(s string) (string, error) {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '[':
			end := classEnd(s, i)
			body := s[i+1 : end]
			negated := body[0] == '!' || body[0] == '^'
			if negated {
				body = body[1:]
			}
			if classHasSlash(body) {
				return "", fmt.Errorf("the class at byte %d names / (a class matches one character within a path element)", i)
			}
			if negated {
				b.WriteString(s[last:end])
				b.WriteByte('/')
				last = end
			}
			i = end
		}
	}
	if last == 0 {
		return s, nil
	}
	b.WriteString(s[last:])
	return b.String(), nil
}

// classHasSlash reports whether a class body (without "[", a negation and
// "]") names "/", itself or in a range.
func classHasSlash(body string) bool {
	var prev rune = -1
	for i := 0; i < len(body); {
		r, n := utf8.DecodeRuneInString(body[i:])
		if r == '\\' && i+n < len(body) {
			i += n
			r, n = utf8.DecodeRuneInString(body[i:])
		}
		i += n
		if r == '-' && prev >= 0 && i < len(body) {
			hi, m := utf8.DecodeRuneInString(body[i:])
			if hi == '\\' && i+m < len(body) {
				i += m
				hi, m = utf8.DecodeRuneInString(body[i:])
			}
			i += m
			if prev <= '/' && '/' <= hi {
				return true
			}
			prev = -1
			continue
		}
		if r == '/' {
			return true
		}
		prev = r
	}
	return false
}

// MustCompile is Compile for patterns known to be good; it panics otherwise.
func MustCompile(s string) Pattern {
	p, err := Compile(s)
	if err != nil {
		panic(err)
	}
	return p
}

// String returns the pattern as written.
func (p Pattern) String() string { return p.s }

// Match reports whether the whole of name matches the pattern. Names are
// compared byte for byte (no Unicode normalisation); any byte, a newline
// included, is an ordinary character.
func (p Pattern) Match(name string) bool {
	if p.literal {
		return name == p.lit
	}
	return doublestar.MatchUnvalidated(p.m, name)
}

// Literal returns the one name the pattern matches when it has no wildcard,
// class or alternative (only, perhaps, escaped characters), and true; else
// "" and false.
func (p Pattern) Literal() (string, bool) {
	if p.literal || p.s == "" {
		return p.lit, true
	}
	return "", false
}

// literal returns the name a valid pattern s matches when it has no
// wildcard, class or alternative.
func literal(s string) (string, bool) {
	if !strings.ContainsAny(s, MetaChars) {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			i++
			b.WriteByte(s[i]) // Compile refused a trailing backslash
		case '*', '?', '[', '{':
			return "", false
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

// HasMeta reports whether s holds a character with a meaning in a pattern:
// a name holding none is a pattern that matches only itself.
func HasMeta(s string) bool { return strings.ContainsAny(s, MetaChars) }

// Escape returns the pattern that matches exactly name (each character with
// a meaning preceded by a backslash).
func Escape(name string) string {
	if !HasMeta(name) {
		return name
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		if strings.IndexByte(MetaChars, name[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(name[i])
	}
	return b.String()
}

// CanMatchUnder reports whether some name below the directory dir (a
// slash-separated name without a trailing slash, "" for the top) could
// match the pattern: a walk need not enter a directory for which it is
// false. It errs towards true (an alternative spanning elements, or an
// escaped slash, ends the element-wise check).
func (p Pattern) CanMatchUnder(dir string) bool {
	if dir == "" {
		return true
	}
	if p.literal {
		return strings.HasPrefix(p.lit, dir+"/")
	}
	pat := strings.Split(p.m, "/")
	for i, d := range strings.Split(dir, "/") {
		if i >= len(pat) {
			return false
		}
		e := pat[i]
		if e == "**" || strings.ContainsAny(e, "{}") || strings.HasSuffix(e, `\`) {
			return true
		}
		if !doublestar.MatchUnvalidated(e, d) {
			return false
		}
		if i == len(pat)-1 {
			return false // the pattern's last element names d itself
		}
	}
	return true
}

// midDoubleStar returns the byte offset of a "**" that is not a whole path
// element (doublestar would read it as "*"), or -1.
func midDoubleStar(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '[':
			i = classEnd(s, i)
		case '*':
			j := i
			for j < len(s) && s[j] == '*' {
				j++
			}
			if j-i >= 2 {
				whole := j-i == 2 && (i == 0 || s[i-1] == '/') && (j == len(s) || s[j] == '/')
				if !whole {
					return i
				}
			}
			i = j - 1
		}
	}
	return -1
}

// classEnd returns the offset of the "]" closing the class opened at s[i]
// (the pattern is valid).
func classEnd(s string, i int) int {
	i++
	if i < len(s) && (s[i] == '!' || s[i] == '^') {
		i++
	}
	for ; i < len(s); i++ { // the first character is never "]": Compile refused an empty class
		if s[i] == '\\' {
			i++
		} else if s[i] == ']' {
			return i
		}
	}
	return len(s)
}

// malformed says what makes s invalid (doublestar only says that it is).
func malformed(s string) string {
	depth, open := 0, -1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 == len(s) {
				return `it ends in a lone \ (write \\ for a backslash)`
			}
			i++
		case '[':
			j := i + 1
			if j < len(s) && (s[j] == '!' || s[j] == '^') {
				j++
			}
			if j < len(s) && s[j] == ']' {
				return fmt.Sprintf(`the class at byte %d is empty (write \[ for a literal [)`, i)
			}
			if e := classEnd(s, i); j < len(s) && e < len(s) {
				i = e
				continue
			}
			return fmt.Sprintf(`the [ at byte %d is not closed (write \[ for a literal [)`, i)
		case '{':
			if depth == 0 {
				open = i
			}
			depth++
		case '}':
			if depth == 0 {
				return fmt.Sprintf(`the } at byte %d closes no { (write \} for a literal })`, i)
			}
			depth--
		}
	}
	if depth > 0 {
		return fmt.Sprintf(`the { at byte %d is not closed (write \{ for a literal {)`, open)
	}
	return "malformed"
}
