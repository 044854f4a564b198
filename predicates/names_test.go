package predicates_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/predicates"
)

// Names that would print as something else are refused, and the error shows
// none of the refused characters raw.
func TestCheckSubjectName(t *testing.T) {
	for _, ok := range []string{"dist/app.tar.gz", "ünïcödé/名前.bin", "a b", "-x", "```"} {
		if err := predicates.CheckSubjectName(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a\nb", "a\rb", "x\r### verify: pass", "\x1b[2Jclear", "tab\there", "del\x7f", "c1\u0085", "a\\b",
		"evil\u202egnp.exe", "\u2066iso\u2069", "\u200fmark", "ls\u2028x", "\xff\xfe"} {
		err := predicates.CheckSubjectName(bad)
		if !errors.Is(err, predicates.ErrSubjects) {
			t.Errorf("%q: err %v, want ErrSubjects", bad, err)
			continue
		}
		if bad != "" && strings.ContainsAny(err.Error(), "\r\n\x1b\t\x7f\u0085\u202e\u2066\u2069\u200f\u2028") {
			t.Errorf("%q: the error holds the raw character: %q", bad, err.Error())
		}
	}
}

// Printable shows every disguising character as an escape and keeps the
// report's own LF and TAB; PrintableField escapes those too.
func TestPrintable(t *testing.T) {
	in := "name\r### verify: pass\n\tcol \x1b[2J \u202egnp \u0085 ok ünï \xff"
	got := predicates.Printable(in)
	want := "name\\r### verify: pass\n\tcol \\x1b[2J \\u202egnp \\u0085 ok ünï \\xff"
	if got != want {
		t.Errorf("Printable = %q, want %q", got, want)
	}
	if got := predicates.PrintableField("a\nb\tc"); got != `a\nb\tc` {
		t.Errorf("PrintableField = %q", got)
	}
	if s := "plain/path ünï"; predicates.Printable(s) != s {
		t.Errorf("Printable changed clean text %q", s)
	}
}
