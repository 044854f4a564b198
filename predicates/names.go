package predicates

import (
	"fmt"
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
