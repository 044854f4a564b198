package runtimepolicy

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// splitDoc writes a runtime policy of n paths in dirs directories; the
// first half lists sha256 digests only, the second also sha384 and sha1
// ones (algorithms the first reading has not seen when the second reads
// them), some paths with two digests. sep goes between members (",\n    "
// as json.dump(indent=4) writes, or ", " on one line).
func splitDoc(n, dirs int, sep string, extra func(i int) string) []byte {
	var b bytes.Buffer
	b.WriteString(`{"meta": {"version": 1}, "release": 0, "digests": {`)
	for i := range n {
		if i > 0 {
			b.WriteString(sep)
		}
		d := fmt.Sprintf("%064x", i*7919)
		switch {
		case i > n/2 && i%3 == 0:
			d = "sha384:" + strings.Repeat(fmt.Sprintf("%02x", i%256), 48)
		case i > n/2 && i%5 == 0:
			d = fmt.Sprintf("%040x", i) + `", "` + d
		}
		p := fmt.Sprintf("/usr/lib/d%d/f%d.so", i%dirs, i)
		if extra != nil {
			if e := extra(i); e != "" {
				p = e
			}
		}
		fmt.Fprintf(&b, `"%s": ["%s"]`, p, d)
	}
	b.WriteString(`}, "excludes": ["/tmp/.*"]}`)
	return b.Bytes()
}

// TestReadAtSplit: read in two parts, a policy gives what Read gives, and
// the second part was taken (its paths joined), wherever it begins and
// however the members are laid out; every path is found by Lookup.
func TestReadAtSplit(t *testing.T) {
	for _, sep := range []string{",\n    ", ", ", ",", " ,\n\t"} {
		doc := splitDoc(3000, 40, sep, nil)
		want := NewAllowlist()
		pw, err := Read(bytes.NewReader(doc), want)
		if err != nil {
			t.Fatal(err)
		}
		for _, frac := range []int{5, 30, 50, 77, 95} {
			for _, buf := range []int{4096, 256 << 10} {
				at := int64(len(doc) * frac / 100)
				al := NewAllowlist()
				p, joined, err := readAt(bytes.NewReader(doc), int64(len(doc)), al, at, buf)
				if err != nil {
					t.Fatalf("%q at %d%%: %v", sep, frac, err)
				}
				if joined == 0 || joined >= 3000 {
					t.Errorf("%q at %d%%, buffer %d: the second reading gave %d paths", sep, frac, buf, joined)
				}
				if !reflect.DeepEqual(contents(al), contents(want)) || p.Paths != pw.Paths || fmt.Sprint(p.Excludes) != fmt.Sprint(pw.Excludes) {
					t.Fatalf("%q at %d%%: the two parts read other contents than Read (%d paths, want %d)", sep, frac, p.Paths, pw.Paths)
				}
				want.Each(func(path string, ds []Digest) bool {
					for _, d := range ds {
						if found, ok, n := al.Lookup(path, d.Alg, d.Bytes); !found || !ok || n != len(ds) {
							t.Fatalf("Lookup(%s, %s): found %v, accepted %v, %d digests", path, d, found, ok, n)
						}
					}
					return true
				})
			}
		}
	}
}

// TestReadAtSplitErrors: a path twice (across the parts or within the
// second), bad digests in the second part, and strings that look like
// member boundaries give Read's error, or Read's contents.
func TestReadAtSplitErrors(t *testing.T) {
	cases := []struct {
		name  string
		extra func(i int) string
		fail  bool
	}{
		{"path of the first part again in the second", func(i int) string {
			if i == 2500 {
				return "/usr/lib/d10/f10.so"
			}
			return ""
		}, true},
		{"path twice in the second part", func(i int) string {
			if i == 2600 {
				return "/usr/lib/d0/f2400.so"
			}
			return ""
		}, true},
		{"first and last path the same", func(i int) string {
			if i == 2999 {
				return "/usr/lib/d0/f0.so"
			}
			return ""
		}, true},
		{"member boundaries inside paths", func(i int) string {
			if i%50 == 7 {
				return fmt.Sprintf(`/x\"], \"/y%d\": [\"%064x`, i, i)
			}
			return ""
		}, false},
		{"a bad digest in the second part", nil, true},
	}
	for _, c := range cases {
		doc := splitDoc(3000, 40, ",\n  ", c.extra)
		if c.extra == nil {
			doc = bytes.Replace(doc, []byte(fmt.Sprintf("%064x", 2701*7919)), []byte("zz"), 1)
		}
		want := NewAllowlist()
		_, errRead := Read(bytes.NewReader(doc), want)
		if (errRead != nil) != c.fail {
			t.Fatalf("%s: Read: %v", c.name, errRead)
		}
		for _, frac := range []int{20, 50, 80} {
			al := NewAllowlist()
			_, _, err := readAt(bytes.NewReader(doc), int64(len(doc)), al, int64(len(doc)*frac/100), 4096)
			if fmt.Sprint(err) != fmt.Sprint(errRead) {
				t.Fatalf("%s, split at %d%%: %v, Read: %v", c.name, frac, err, errRead)
			}
			if err == nil && !reflect.DeepEqual(contents(al), contents(want)) {
				t.Fatalf("%s, split at %d%%: other contents than Read", c.name, frac)
			}
		}
	}
}

// TestReadAtSecondDocument: a second policy read in two parts into the
// same Allowlist may list the first's paths again (several sources), but
// not its own twice.
func TestReadAtSecondDocument(t *testing.T) {
	first := splitDoc(3000, 40, ",\n", nil)
	second := splitDoc(3000, 40, ",\n", func(i int) string { return fmt.Sprintf("/opt/d%d/g%d", i%30, i) })
	second = bytes.Replace(second, []byte("/opt/d10/g2500"), []byte("/usr/lib/d10/f10.so"), 1) // the first's
	want := NewAllowlist()
	for _, d := range [][]byte{first, second} {
		if _, err := Read(bytes.NewReader(d), want); err != nil {
			t.Fatal(err)
		}
	}
	al := NewAllowlist()
	for _, d := range [][]byte{first, second} {
		if _, joined, err := readAt(bytes.NewReader(d), int64(len(d)), al, int64(len(d)/2), 4096); err != nil || joined == 0 {
			t.Fatalf("readAt: %v, %d paths from the second reading", err, joined)
		}
	}
	if !reflect.DeepEqual(contents(al), contents(want)) {
		t.Fatal("two documents read in parts: other contents than Read")
	}
	twice := bytes.Replace(second, []byte("/opt/d0/g2400"), []byte("/opt/d0/g60"), 1)
	_, errRead := Read(bytes.NewReader(twice), want)
	_, _, err := readAt(bytes.NewReader(twice), int64(len(twice)), al, int64(len(twice)/2), 4096)
	if err == nil || fmt.Sprint(err) != fmt.Sprint(errRead) {
		t.Fatalf("a path twice in the second document: %v, Read: %v", err, errRead)
	}
}
