package policy

import (
	"bufio"
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

var allowDoc = `version: 1
# a comment
ima:
  scope: boot
  # Every path measured...
  allow:
    - path: "/usr/bin/ls"
      digests: [sha256:` + strings.Repeat("ab", 32) + `]

    # a reviewer's note
    - path: /usr/lib/x86_64-linux-gnu/libc.so.6
      digests: ['sha256:` + strings.Repeat("cd", 32) + `', "` + strings.Repeat("ef", 20) + `"]
    - path: "/opt/my tool/**/*.so"
      digests: [sha256:` + strings.Repeat("01", 32) + `]
  exclude: []
maxAge: 30d
`

// decodeDoc decodes a policy document as parsePolicy does.
func decodeDoc(data []byte) (policyFile, error) {
	var raw policyFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(&raw)
	return raw, err
}

// checkSplit: when splitAllow reads a document, the YAML decoder reads the
// same allow items from it, and the same everything else from the
// document splitAllow leaves, with the same line count.
func checkSplit(t *testing.T, data []byte) bool {
	_, ok := splitItems(t, data)
	return ok
}

// splitItems is checkSplit returning the items read.
func splitItems(t *testing.T, data []byte) ([]allowItem, bool) {
	var items []allowItem
	var buf bytes.Buffer
	ok, err := splitAllow(bufio.NewReaderSize(bytes.NewReader(data), 4096), &buf, func(i int, path []byte, digests [][]byte, line int) {
		if i != len(items) {
			t.Fatalf("item %d given as %d", len(items), i)
		}
		it := allowItem{path: string(path), line: line}
		for _, d := range digests {
			it.digests = append(it.digests, string(d))
		}
		items = append(items, it)
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return nil, false
	}
	rest := buf.Bytes()
	full, ferr := decodeDoc(data)
	part, perr := decodeDoc(rest)
	if (ferr == nil) != (perr == nil) {
		t.Fatalf("the document decodes with %v, what splitAllow leaves with %v\n%s\n----\n%s", ferr, perr, data, rest)
	}
	if ferr != nil {
		return items, true
	}
	if bytes.Count(rest, []byte("\n")) != bytes.Count(data, []byte("\n")) || bytes.Count(rest, []byte("\r")) != bytes.Count(data, []byte("\r")) {
		t.Fatalf("splitAllow moved lines")
	}
	var got []allowYAML
	for _, it := range items {
		got = append(got, allowYAML{Path: it.path, Digests: it.digests})
	}
	if !reflect.DeepEqual(got, full.IMA.Allow) && !(len(got) == 0 && len(full.IMA.Allow) == 0) {
		t.Fatalf("fast path %v, YAML decoder %v", got, full.IMA.Allow)
	}
	full.IMA.Allow, part.IMA.Allow = nil, nil
	if !reflect.DeepEqual(full, part) {
		t.Fatalf("the rest decodes to %+v, the document to %+v", part, full)
	}
	return items, true
}

// allowItem is one item splitAllow gave.
type allowItem struct {
	path    string
	digests []string
	line    int
}

// TestSplitAllow: the layout policy init writes takes the fast path, with
// lines named right; other layouts, which the fast path does not read
// exactly, fall back to the YAML decoder.
func TestSplitAllow(t *testing.T) {
	if !checkSplit(t, []byte(allowDoc)) {
		t.Fatal("the layout policy init writes did not take the fast path")
	}
	items, _ := splitItems(t, []byte(allowDoc))
	if len(items) != 3 || items[1].line != 11 || items[2].path != "/opt/my tool/**/*.so" {
		t.Errorf("items %+v", items)
	}
	for name, edit := range map[string][2]string{
		"trailing comment": {`digests: [sha256:` + strings.Repeat("ab", 32) + `]`, `digests: [sha256:` + strings.Repeat("ab", 32) + `] # x`},
		"single quotes":    {`"/usr/bin/ls"`, `'/usr/bin/ls'`},
		"escape":           {`"/usr/bin/ls"`, `"/usr/bin/\x6cs"`},
		"plain with colon": {`/usr/lib/x86_64-linux-gnu/libc.so.6`, `/usr/lib/a: b`},
		"block digests":    {`digests: [sha256:` + strings.Repeat("ab", 32) + `]`, "digests:\n        - sha256:" + strings.Repeat("ab", 32)},
		"digests first":    {`- path: "/usr/bin/ls"` + "\n      digests", `- digests`},
		"anchor":           {`- path: "/usr/bin/ls"`, `- path: &a "/usr/bin/ls"`},
		"flow ima":         {"ima:\n  scope: boot", "ima: {scope: boot}\nx:\n  scope: boot"},
		"lone CR":          {"\n    # a reviewer's note\n", "\n\r    # a reviewer's note\n"},
		"CR CR LF":         {"  allow:\n", "  allow:\r\r\n"},
		"CR before allow":  {"  # Every path", "\r  # Every path"},
	} {
		doc := strings.Replace(allowDoc, edit[0], edit[1], 1)
		if doc == allowDoc {
			t.Fatalf("%s: the edit changed nothing", name)
		}
		if checkSplit(t, []byte(doc)) {
			t.Errorf("%s: took the fast path:\n%s", name, doc)
		}
	}
}

// FuzzSplitAllow: whatever document the fast path reads, the YAML decoder
// reads the same from it.
func FuzzSplitAllow(f *testing.F) {
	f.Add([]byte(allowDoc))
	f.Add([]byte("ima:\n  allow:\n    - path: \"/a\"\n      digests: [ab]\n"))
	f.Add(splitPolicyDoc(8, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		checkSplit(t, data)
		// Read in two parts at once, the block gives what one reading gives.
		want, _ := loadSplit(t, data, -1)
		for _, at := range []int{len(data) / 3, len(data) / 2} {
			if got, _ := loadSplit(t, data, int64(at)); !reflect.DeepEqual(got, want) {
				t.Fatalf("split at byte %d: %s, want %s", at, brief(got), brief(want))
			}
		}
	})
}

func BenchmarkSplitAllow(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("version: 1\nima:\n  allow:\n")
	for i := range 200000 {
		fmt.Fprintf(&sb, "    - path: \"/usr/lib/p%d/lib%d.so\"\n      digests: [sha256:%064x]\n", i%300, i, i)
	}
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	var rest bytes.Buffer
	for b.Loop() {
		rest.Reset()
		n := 0
		if ok, err := splitAllow(bufio.NewReader(bytes.NewReader(data)), &rest, func(int, []byte, [][]byte, int) { n++ }, nil); !ok || err != nil || n != 200000 {
			b.Fatal(ok, err, n)
		}
	}
}
