package pathglob

import (
	"errors"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern string
		match   []string
		noMatch []string
	}{
		// **: any number of whole elements, none included.
		{"/tmp/**", []string{"/tmp/x", "/tmp/a/b/c", "/tmp/"}, []string{"/tmpx/y", "/var/tmp/x"}},
		{"/usr/lib/**/*.so*", []string{"/usr/lib/a.so", "/usr/lib/x/y/libz.so.1"}, []string{"/usr/lib64/a.so", "/usr/lib/x/a.txt"}},
		{"**/*.o", []string{"a.o", "x/y/a.o", "/abs/a.o"}, []string{"a.c", "x/a.c"}},
		{"dist/**", []string{"dist/a", "dist/a/b"}, []string{"distx/a", "src/a"}},
		// * and ?: within one element.
		{"/etc/*.conf", []string{"/etc/a.conf", "/etc/.conf"}, []string{"/etc/x/a.conf", "/etc/a.confx"}},
		{"/usr/bin/?cc", []string{"/usr/bin/gcc", "/usr/bin/écc"}, []string{"/usr/bin/cc", "/usr/bin/g/c", "/usr/bin/ggcc"}},
		{"refs/tags/v*", []string{"refs/tags/v1.2", "refs/tags/v"}, []string{"refs/tags/v1/x", "refs/heads/v1"}},
		// [...]: classes, ranges, negation.
		{"/lib/lib[cm].so", []string{"/lib/libc.so", "/lib/libm.so"}, []string{"/lib/libz.so", "/lib/lib.so"}},
		{"/lib/lib[a-c].so", []string{"/lib/liba.so", "/lib/libb.so"}, []string{"/lib/libd.so"}},
		{"/lib/lib[!a-c].so", []string{"/lib/libd.so"}, []string{"/lib/liba.so", "/lib/lib/.so"}},
		{"/lib/lib[^a-c].so", []string{"/lib/libd.so"}, []string{"/lib/libb.so", "/lib/lib/.so"}},
		{"/a/[!x]b/c", []string{"/a/yb/c"}, []string{"/a//b/c", "/a/xb/c"}},
		{"/a/[+-.]", []string{"/a/+", "/a/-", "/a/."}, []string{"/a//"}},
		{`/x/[\]]`, []string{"/x/]"}, []string{"/x/\\"}},
		// {a,b}: alternatives, nested, spanning elements.
		{"/usr/{bin,sbin}/make", []string{"/usr/bin/make", "/usr/sbin/make"}, []string{"/usr/lib/make"}},
		{"/a/{b,c/d}", []string{"/a/b", "/a/c/d"}, []string{"/a/c", "/a/d"}},
		{"/a/x{y{z,},}", []string{"/a/x", "/a/xy", "/a/xyz"}, []string{"/a/xz"}},
		// Escapes: the character itself.
		{`/bin/\[`, []string{"/bin/["}, []string{"/bin/a"}},
		{`/a/\*`, []string{"/a/*"}, []string{"/a/b"}},
		{`/a/\?`, []string{"/a/?"}, []string{"/a/b"}},
		{`/a/\{b,c\}`, []string{"/a/{b,c}"}, []string{"/a/b"}},
		{`/a/b\\c`, []string{`/a/b\c`}, []string{"/a/bc"}},
		// Literal characters that are regexp or path.Match syntax elsewhere.
		{"/a+b(c)", []string{"/a+b(c)"}, []string{"/aab(c)"}},
		{"/a]b,c", []string{"/a]b,c"}, nil},
		// File names may hold any byte but "/" and NUL: a newline must not
		// let a path slip past a deny pattern.
		{"/tmp/**", []string{"/tmp/evil\nx", "/tmp/a\n/b"}, []string{"/tmp\n/x"}},
		{"/tmp/*/run", []string{"/tmp/a\nb/run"}, []string{"/tmp/a/b/run"}},
		{"/bin/?", []string{"/bin/\n", "/bin/\xff"}, []string{"/bin/ab"}},
	}
	for _, tc := range tests {
		p, err := Compile(tc.pattern)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tc.pattern, err)
		}
		for _, m := range tc.match {
			if !p.Match(m) {
				t.Errorf("%q should match %q", tc.pattern, m)
			}
		}
		for _, m := range tc.noMatch {
			if p.Match(m) {
				t.Errorf("%q should not match %q", tc.pattern, m)
			}
		}
	}
}

func TestCompileRefuses(t *testing.T) {
	tests := []struct{ pattern, want string }{
		{"", "empty pattern"},
		{"/usr/bin/[", "the [ at byte 9 is not closed"},
		{"/a/[]", "the class at byte 3 is empty"},
		{"/a/[!]", "the class at byte 3 is empty"},
		{"/a/{b,c", "the { at byte 3 is not closed"},
		{"/a/b}", "the } at byte 4 closes no {"},
		{`/a/b\`, `ends in a lone \`},
		{"/usr/lib/**.so", "** must be a whole path element (at byte 9"},
		{"/usr/**lib/x", "** must be a whole path element (at byte 5"},
		{"/a/***/b", "** must be a whole path element"},
		{"a**", "** must be a whole path element"},
		{"/a/\xb5*", "not valid UTF-8"},
		{"/a/\ufffd*", "U+FFFD at byte 3"},
		{"/a/[/]", "the class at byte 3 names /"},
		{"/a/[!+-0]", "the class at byte 3 names /"},
		{`/a/[\/]`, "the class at byte 3 names /"},
	}
	for _, tc := range tests {
		_, err := Compile(tc.pattern)
		if !errors.Is(err, ErrBadPattern) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Compile(%q) = %v, want ErrBadPattern saying %q", tc.pattern, err, tc.want)
		}
	}
	// "**" inside a class or escaped is not a doublestar.
	for _, ok := range []string{`/a/[**]`, `/a/\*\*`, `/a/\**`} {
		if _, err := Compile(ok); err != nil {
			t.Errorf("Compile(%q): %v", ok, err)
		}
	}
}

func TestLiteral(t *testing.T) {
	tests := []struct {
		pattern, lit string
		ok           bool
	}{
		{"/usr/bin/make", "/usr/bin/make", true},
		{`/usr/bin/\[`, "/usr/bin/[", true},
		{`/a/\*\?\{\}\\`, `/a/*?{}\`, true},
		{"/a]b", "/a]b", true},
		{"/a/\xb5\\?", "/a/\xb5?", true}, // any bytes, compared as bytes
		{"/a/*", "", false},
		{"/a/?", "", false},
		{"/a/[bc]", "", false},
		{"/a/{b,c}", "", false},
		{"/a/**", "", false},
	}
	for _, tc := range tests {
		lit, ok := MustCompile(tc.pattern).Literal()
		if lit != tc.lit || ok != tc.ok {
			t.Errorf("Literal(%q) = %q, %v; want %q, %v", tc.pattern, lit, ok, tc.lit, tc.ok)
		}
	}
}

func TestCanMatchUnder(t *testing.T) {
	tests := []struct {
		pattern string
		yes, no []string
	}{
		{"*/bin/*.o", []string{"", "a", "a/bin"}, []string{"a/lib", "a/bin/c"}},
		{"**/*.o", []string{"a", "a/b/c"}, nil},
		{"a/**/x", []string{"a", "a/b/c"}, []string{"b"}},
		{"[ab]/x", []string{"a", "b"}, []string{"c", "a/x"}},
		// An alternative spanning elements: no pruning from there on.
		{"{a/b,c}/x", []string{"a", "a/b", "c", "d"}, nil},
		{`a\/b/*`, []string{`a\`, "zzz"}, nil},
		{`a/\*/x`, []string{"a", "a/*"}, []string{"b", "a/b", "a/*/x"}},
	}
	for _, tc := range tests {
		p := MustCompile(tc.pattern)
		for _, d := range tc.yes {
			if !p.CanMatchUnder(d) {
				t.Errorf("%q: CanMatchUnder(%q) = false, want true", tc.pattern, d)
			}
		}
		for _, d := range tc.no {
			if p.CanMatchUnder(d) {
				t.Errorf("%q: CanMatchUnder(%q) = true, want false", tc.pattern, d)
			}
		}
	}
}

// FuzzEscape checks that an escaped name compiles, is literal and matches
// the name and nothing else tried.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"/usr/bin/[", `a\b`, "{x,y}", "*?", "plain", "a]b}"} {
		f.Add(s, "other")
	}
	f.Fuzz(func(t *testing.T, name, other string) {
		if name == "" {
			return
		}
		p, err := Compile(Escape(name))
		if err != nil {
			t.Fatalf("Compile(Escape(%q)): %v", name, err)
		}
		if lit, ok := p.Literal(); !ok || lit != name {
			t.Fatalf("Literal(Escape(%q)) = %q, %v", name, lit, ok)
		}
		if !p.Match(name) {
			t.Fatalf("Escape(%q) does not match it", name)
		}
		if other != name && p.Match(other) {
			t.Fatalf("Escape(%q) matches %q", name, other)
		}
	})
}

// FuzzCompile checks that Compile never panics and that what it accepts
// matches without panicking, and Literal agrees with Match.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{"/a/**/b", "[a-", "{a,{b}", `\`, "/x/[!]]", "a/**", "**", "\xb5*", "\ufffd?", "/a/[!x]b"} {
		f.Add(s, "/a//b")
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		p, err := Compile(pattern)
		if err != nil {
			return
		}
		m := p.Match(name)
		if lit, ok := p.Literal(); ok && m != (lit == name) {
			t.Fatalf("%q: Literal %q, but Match(%q) = %v", pattern, lit, name, m)
		}
		// Without ** and alternatives, every "/" of the pattern is a
		// separator and nothing else matches one: a match has as many.
		if m && !strings.ContainsAny(pattern, "{\\") && !strings.Contains(pattern, "**") && strings.Count(name, "/") != strings.Count(pattern, "/") {
			t.Fatalf("%q matches %q: a / matched by something else", pattern, name)
		}
		p.CanMatchUnder(name)
	})
}
