package predicates

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// CheckSubjectName refuses a subject name that would print as something it
// is not: empty, not UTF-8, or holding a control character (C0 including
// CR, ESC and TAB, DEL, C1), a line or paragraph separator, or a
// bidirectional formatting character (U+061C, U+200E, U+200F,
// U+202A-U+202E, U+2066-U+2069), or a backslash (sha256sum would escape it,
// see SubjectsNonce). A file the build names so could close a code fence in
// a job summary, rewrite a terminal line, or reorder the text a reviewer
// reads. The error quotes the name with Go escapes (%q), so it shows no such
// character itself.
func CheckSubjectName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: a subject name is empty", ErrSubjects)
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: subject name %q is not UTF-8", ErrSubjects, name)
	}
	for i, r := range name {
		if bad := badNameRune(r); bad != "" {
			return fmt.Errorf("%w: subject name %q holds %s (U+%04X) at byte %d", ErrSubjects, name, bad, r, i)
		}
	}
	return nil
}

func badNameRune(r rune) string {
	switch {
	case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
		return "a control character"
	case r == '\\':
		return "a backslash"
	case r == 0x2028 || r == 0x2029:
		return "a line or paragraph separator"
	case r == 0x061c || r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
		return "a bidirectional formatting character"
	}
	return ""
}

// Printable returns text with every character CheckSubjectName refuses,
// except the backslash, LF and TAB, shown as a Go escape (\r, \x1b, \u202e;
// a byte that is not UTF-8 as \xHH): for a whole report whose lines and
// columns are LF and TAB, where untrusted text must not move the cursor,
// end a line in Markdown (a lone CR does) or reorder what is read.
func Printable(text string) string { return escape(text, "\n\t") }

// PrintableField is Printable for one untrusted field printed inside a
// line (a subject name, a file path): LF and TAB are escaped too.
func PrintableField(text string) string { return escape(text, "") }

func escape(text, keep string) string {
	clean := true
	for _, r := range text {
		if r == utf8.RuneError || (badNameRune(r) != "" && r != '\\' && !strings.ContainsRune(keep, r)) {
			clean = false
			break
		}
	}
	if clean {
		return text
	}
	var b strings.Builder
	for i := 0; i < len(text); {
		r, n := utf8.DecodeRuneInString(text[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, text[i])
		case badNameRune(r) != "" && r != '\\' && !strings.ContainsRune(keep, r):
			q := strconv.QuoteRune(r) // '\r', '\x1b', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(text[i : i+n])
		}
		i += n
	}
	return b.String()
}
