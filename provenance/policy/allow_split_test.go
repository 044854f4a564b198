package policy

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/runtimepolicy"
)

// splitPolicyDoc writes a policy whose ima.allow block has n items (a few
// of them patterns, some with two digests), with edit applied to the
// lines of item i when it returns a replacement.
func splitPolicyDoc(n int, edit func(i int) string) []byte {
	var b strings.Builder
	b.WriteString("version: 1\n# a comment\nima:\n  scope: boot\n  allow:\n")
	for i := range n {
		if edit != nil {
			if e := edit(i); e != "" {
				b.WriteString(e)
				continue
			}
		}
		switch {
		case i%97 == 5:
			fmt.Fprintf(&b, "    - path: \"/opt/t%d/**/*.so\"\n      digests: [sha256:%064x]\n", i, i)
		case i%7 == 3:
			fmt.Fprintf(&b, "    - path: /usr/lib/d%d/f%d.so\n      digests: ['sha256:%064x', \"%040x\"]\n", i%40, i, i, i)
		default:
			fmt.Fprintf(&b, "    - path: \"/usr/lib/d%d/f%d.so\"\n      digests: [sha256:%064x]\n", i%40, i, i)
		}
	}
	b.WriteString("  exclude: []\nmaxAge: 30d\n")
	return []byte(b.String())
}

// loaded is what splitFrom made of a document, for comparison.
type loaded struct {
	fast     bool
	err      string
	n        int
	fastErr  string
	allow    []string
	patterns []string
	rest     string
}

func loadSplit(t *testing.T, doc []byte, at int64) (loaded, int) {
	t.Helper()
	l := &policyLoader{file: "p.yaml", dir: "."}
	fast, err := l.splitFrom(bytes.NewReader(doc), len(doc), bytes.NewReader(doc), at)
	out := loaded{fast: fast, err: fmt.Sprint(err), n: l.fastN, fastErr: fmt.Sprint(l.fastErr), rest: string(l.data)}
	if fast {
		l.fastRules.allow.Each(func(p string, ds []runtimepolicy.Digest) bool {
			out.allow = append(out.allow, fmt.Sprint(p, ds))
			return true
		})
		for _, p := range l.fastRules.patterns {
			out.patterns = append(out.patterns, fmt.Sprint(p.glob, p.digests))
		}
	}
	return out, l.joined
}

// TestAllowSplit: the ima.allow block read in two parts at once gives what
// one reading gives (items in order, patterns, the first error with its
// item and line, the document left for the YAML decoder), and the second
// reading's items were taken, wherever it begins.
func TestAllowSplit(t *testing.T) {
	bad := func(at int, line string) func(int) string {
		return func(i int) string {
			if i == at {
				return line
			}
			return ""
		}
	}
	cases := []struct {
		name   string
		edit   func(int) string
		joined bool // a split in the first half is taken
	}{
		{"items", nil, true},
		{"a bad digest late", bad(2500, "    - path: /x/y\n      digests: [sha256:zz]\n"), true},
		{"no digest late", bad(2500, "    - path: /x/y\n      digests: []\n"), true},
		{"a comment line late", bad(2500, "    # a note\n    - path: /x/y\n      digests: [sha256:"+strings.Repeat("0", 64)+"]\n"), true},
		{"other layout late", bad(2500, "    - {path: /x/y, digests: [sha256:"+strings.Repeat("0", 64)+"]}\n"), true},
		{"other indentation late", bad(2500, "     - path: /x/y\n       digests: [sha256:"+strings.Repeat("0", 64)+"]\n"), false},
		{"CRLF late", bad(2500, "    - path: /x/y\r\n      digests: [sha256:"+strings.Repeat("0", 64)+"]\r\n"), true},
	}
	for _, c := range cases {
		doc := splitPolicyDoc(3000, c.edit)
		want, _ := loadSplit(t, doc, -1)
		for _, frac := range []int{10, 30, 50, 70, 95} {
			got, joined := loadSplit(t, doc, int64(len(doc)*frac/100))
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s, split at %d%%: %+v\nwant %+v", c.name, frac, brief(got), brief(want))
			}
			if c.joined && frac <= 50 && joined == 0 {
				t.Errorf("%s, split at %d%%: the second reading's items were not taken", c.name, frac)
			}
		}
	}
}

func brief(l loaded) string {
	return fmt.Sprintf("fast %v err %s n %d fastErr %s, %d paths, %d patterns, %d bytes left", l.fast, l.err, l.n, l.fastErr, len(l.allow), len(l.patterns), len(l.rest))
}
