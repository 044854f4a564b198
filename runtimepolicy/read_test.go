package runtimepolicy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
)

var sampleDoc = `{
  "meta": {"version": 1, "generator": 1},
  "release": 0,
  "digests": {
    "/usr/bin/ls": ["` + hex32 + `", "sha1:` + hex20 + `"],
    "/usr/bin/\"q\" \u00e9": ["` + hex20 + `"],
    "boot_aggregate": ["` + hex32 + `"]
  },
  "excludes": ["/var/log/.*", "/tmp/.*"],
  "keyrings": {"a": ["` + hex32 + `"]},
  "ima": {"ignored_keyrings": [], "log_hash_alg": "sha1", "dm_policy": null},
  "ima-buf": {},
  "verification-keys": ""
}
`

var (
	hex20 = strings.Repeat("ab", 20)
	hex32 = strings.Repeat("cd", 32)
)

// contents lists an Allowlist as "path alg:hex ..." lines, sorted.
func contents(al *Allowlist) []string {
	var out []string
	al.Each(func(p string, ds []Digest) bool {
		var s []string
		for _, d := range ds {
			s = append(s, d.String())
		}
		out = append(out, p+" "+strings.Join(s, " "))
		return true
	})
	sort.Strings(out)
	return out
}

// reference parses a runtime policy with encoding/json, for comparison.
func reference(data []byte) ([]string, []string, error) {
	var doc struct {
		Meta *struct {
			Version int `json:"version"`
		} `json:"meta"`
		Digests  map[string][]string `json:"digests"`
		Excludes []string            `json:"excludes"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, err
	}
	al := NewAllowlist()
	for p, hs := range doc.Digests {
		var ds []Digest
		for _, h := range hs {
			d, err := ParseDigest(h)
			if err != nil {
				return nil, nil, err
			}
			ds = append(ds, d)
		}
		if len(ds) > 0 {
			al.Add(p, ds...)
		}
	}
	return contents(al), doc.Excludes, nil
}

// TestRead: the streaming reader gives what encoding/json gives, and the
// excludes combined as Keylime matches them (anchored at the start only).
func TestRead(t *testing.T) {
	al := NewAllowlist()
	p, err := Read(strings.NewReader(sampleDoc), al)
	if err != nil {
		t.Fatal(err)
	}
	want, wantEx, err := reference([]byte(sampleDoc))
	if err != nil {
		t.Fatal(err)
	}
	if got := contents(al); !reflect.DeepEqual(got, want) {
		t.Errorf("digests\n%v\nwant\n%v", got, want)
	}
	if !reflect.DeepEqual(p.Excludes, wantEx) || p.Paths != 3 {
		t.Errorf("excludes %v paths %d", p.Excludes, p.Paths)
	}
	if !p.Exclude.MatchString("/var/log/x") || p.Exclude.MatchString("/a/var/log/x") {
		t.Errorf("exclude %v", p.Exclude)
	}
	found, ok, n := al.Lookup("/usr/bin/ls", "sha1", bytes.Repeat([]byte{0xab}, 20))
	if !found || !ok || n != 2 {
		t.Errorf("lookup: %v %v %d", found, ok, n)
	}
	if found, ok, _ := al.Lookup("/usr/bin/ls", "sha256", bytes.Repeat([]byte{0xab}, 32)); !found || ok {
		t.Errorf("a digest not listed was accepted: %v %v", found, ok)
	}
	if found, _, _ := al.Lookup("/usr/bin/l", "sha256", nil); found {
		t.Error("a path not listed was found")
	}
}

// TestReadErrors: each refusal names the line and member.
func TestReadErrors(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"no meta", `{"digests": {}}`, "meta: "},
		{"version 2", `{"meta": {"version": 2}}`, "version 2"},
		{"unknown member", `{"meta": {"version": 1}, "allowlist": {}}`, "allowlist: "},
		{"member twice", `{"meta": {"version": 1}, "meta": {"version": 1}}`, "appears twice"},
		{"path twice", `{"meta": {"version": 1}, "digests": {"/a": ["` + hex32 + `"],` + "\n" + `"/a": ["` + hex32 + `"]}}`, `line 2 (byte 113): digests["/a"]: invalid Keylime runtime policy: the path appears twice`},
		{"bad hex", `{"meta": {"version": 1}, "digests": {"/a": ["zz"]}}`, `digests["/a"][0]`},
		{"odd size", `{"meta": {"version": 1}, "digests": {"/a": ["abcd"]}}`, "no known digest size"},
		{"empty list", `{"meta": {"version": 1}, "digests": {"/a": []}}`, "no digest"},
		{"python regex", `{"meta": {"version": 1}, "excludes": ["(?<=x)y"]}`, "RE2"},
		{"trailing", `{"meta": {"version": 1}} x`, "after the document"},
		{"truncated", `{"meta": {"version": 1}, "digests": {"/a": ["` + hex32, "ends inside a string"},
		{"control", "{\"meta\": {\"version\": 1}, \"digests\": {\"/a\n\": []}}", "control character"},
	}
	for _, c := range cases {
		_, err := Read(strings.NewReader(c.doc), NewAllowlist())
		var re *ReadError
		if !errors.As(err, &re) || !errors.Is(err, ErrPolicy) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a *ReadError containing %q", c.name, err, c.want)
		}
	}
}

// FuzzRead: on any input Read never panics; when it accepts a document,
// encoding/json reads the same digests and excludes from it.
func FuzzRead(f *testing.F) {
	f.Add([]byte(sampleDoc))
	f.Add([]byte(`{"meta": {"version": 1}, "digests": {"/a": ["` + hex32 + `"]}, "release": 1e3, "ima": null}`))
	f.Add(splitDoc(12, 3, ",\n", nil))
	f.Add(splitDoc(12, 3, ", ", func(i int) string {
		if i == 9 {
			return "/usr/lib/d1/f1.so"
		}
		return ""
	}))
	f.Fuzz(func(t *testing.T, data []byte) {
		al := NewAllowlist()
		p, err := Read(bytes.NewReader(data), al)
		// The exact reader alone (no fastMember) reads the same, or names
		// the same error at the same place.
		exact := NewAllowlist()
		pe, errExact := read(&scanner{r: bufio.NewReaderSize(bytes.NewReader(data), 16), line: 1, exact: true}, exact)
		if fmt.Sprint(err) != fmt.Sprint(errExact) {
			t.Fatalf("Read: %v; the exact reader: %v", err, errExact)
		}
		if err == nil && (!reflect.DeepEqual(contents(al), contents(exact)) || fmt.Sprint(p) != fmt.Sprint(pe)) {
			t.Fatalf("Read and the exact reader differ: %v %v, %v %v", contents(al), p, contents(exact), pe)
		}
		// So does the fast one with members cut by the buffer's end.
		small := NewAllowlist()
		if _, err2 := read(&scanner{r: bufio.NewReaderSize(bytes.NewReader(data), 100), line: 1}, small); fmt.Sprint(err) != fmt.Sprint(err2) || err == nil && !reflect.DeepEqual(contents(al), contents(small)) {
			t.Fatalf("Read: %v; with a 100-byte buffer: %v", err, err2)
		}
		// So does the reading in two parts, wherever the second begins.
		for _, at := range []int{len(data) / 3, len(data) / 2, len(data) * 4 / 5} {
			parts := NewAllowlist()
			p2, _, err2 := readAt(bytes.NewReader(data), int64(len(data)), parts, int64(at), 64)
			if fmt.Sprint(err) != fmt.Sprint(err2) || err == nil && (!reflect.DeepEqual(contents(al), contents(parts)) || fmt.Sprint(p) != fmt.Sprint(p2)) {
				t.Fatalf("Read: %v; in two parts from byte %d: %v", err, at, err2)
			}
		}
		if err != nil {
			if !errors.Is(err, ErrPolicy) {
				t.Fatalf("%v is not ErrPolicy", err)
			}
			return
		}
		want, ex, err := reference(data)
		if err != nil {
			t.Fatalf("Read accepted what encoding/json refuses (%v):\n%q", err, data)
		}
		if got := contents(al); !reflect.DeepEqual(got, want) || fmt.Sprint(p.Excludes) != fmt.Sprint(ex) {
			t.Fatalf("Read gives %v %v, encoding/json %v %v", got, p.Excludes, want, ex)
		}
	})
}
