package policy

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/internal/pathglob"
)

// benchGlobs are policy patterns valid in both the old dialect (a regexp
// translation without [...] or {...}) and internal/pathglob's: deny,
// exclude and allow patterns of a plausible policy.
var benchGlobs = []string{
	"/tmp/**", "/dev/shm/**", "/home/*/.cache/**", // deny
	"/var/log/**", "/proc/**", // exclude
	"/usr/lib/**/*.so*", "/usr/bin/*", "/usr/share/**/*.py", "/home/*/work/**", "/opt/tool-?/bin/*", // allow
}

// benchIMAPaths returns n paths shaped like a build's IMA window: mostly
// shared libraries and tools, some sources, temporary build outputs, logs.
func benchIMAPaths(n int) []string {
	paths := make([]string, n)
	for i := range paths {
		switch i % 20 {
		case 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11:
			paths[i] = fmt.Sprintf("/usr/lib/x86_64-linux-gnu/lib%d.so.%d", i, i%7)
		case 12, 13, 14:
			paths[i] = fmt.Sprintf("/usr/bin/tool%d", i)
		case 15, 16:
			paths[i] = fmt.Sprintf("/home/runner/work/proj/src/pkg%d/file%d.go", i%97, i)
		case 17:
			paths[i] = fmt.Sprintf("/tmp/go-build%d/b%03d/exe/a.out", i%13, i%1000)
		case 18:
			paths[i] = fmt.Sprintf("/usr/share/python3/dist/m%d/x%d.py", i%31, i)
		default:
			paths[i] = fmt.Sprintf("/var/log/build-%d.log", i)
		}
	}
	return paths
}

// oldGlobRegexp is the pattern translation the policy used before
// internal/pathglob (kept here only to benchmark against, in one run):
// "**" any run of characters ("/**/" also a single "/"), "*" any run
// without "/", "?" one character other than "/", all else literal.
func oldGlobRegexp(g string) (*regexp.Regexp, error) {
	if g == "" {
		return nil, errors.New("empty pattern")
	}
	var b strings.Builder
	b.WriteString(`(?s)^`)
	for i := 0; i < len(g); {
		switch {
		case strings.HasPrefix(g[i:], "/**/"):
			b.WriteString(`/(?:.*/)?`)
			i += 4
		case strings.HasPrefix(g[i:], "**"):
			b.WriteString(`.*`)
			i += 2
		case g[i] == '*':
			b.WriteString(`[^/]*`)
			i++
		case g[i] == '?':
			b.WriteString(`[^/]`)
			i++
		default:
			j := i
			for j < len(g) && g[j] != '*' && g[j] != '?' && !strings.HasPrefix(g[j:], "/**/") {
				j++
			}
			b.WriteString(regexp.QuoteMeta(g[i:j]))
			i = j
		}
	}
	b.WriteString(`$`)
	return regexp.Compile(b.String())
}

// globMatchers returns benchGlobs as match functions, old and new.
func globMatchers(tb testing.TB) (old, cur []func(string) bool) {
	for _, g := range benchGlobs {
		re, err := oldGlobRegexp(g)
		if err != nil {
			tb.Fatal(err)
		}
		p, err := pathglob.Compile(g)
		if err != nil {
			tb.Fatal(err)
		}
		old = append(old, re.MatchString)
		cur = append(cur, p.Match)
	}
	return old, cur
}

func countMatches(paths []string, ms []func(string) bool) int {
	n := 0
	for _, p := range paths {
		for _, m := range ms {
			if m(p) {
				n++
			}
		}
	}
	return n
}

// TestBenchGlobsAgree: on the benchmark's paths and patterns the old
// regexp translation and internal/pathglob match alike, so that
// BenchmarkIMAPatterns compares equal work.
func TestBenchGlobsAgree(t *testing.T) {
	old, cur := globMatchers(t)
	for _, p := range benchIMAPaths(2000) {
		for i := range old {
			if old[i](p) != cur[i](p) {
				t.Errorf("%q on %q: old %v, pathglob %v", benchGlobs[i], p, old[i](p), cur[i](p))
			}
		}
	}
}

// BenchmarkIMAPatterns matches a 200,000-entry IMA window against ten
// policy patterns, every path against every pattern (the worst case of
// IMAEvaluation.Add's deny, exclude and allow-pattern loops), with the old
// regexp translation and with internal/pathglob (doublestar), in one run.
func BenchmarkIMAPatterns(b *testing.B) {
	paths := benchIMAPaths(200_000)
	old, cur := globMatchers(b)
	want := countMatches(paths, old)
	for _, bc := range []struct {
		name string
		ms   []func(string) bool
	}{{"regexp-old", old}, {"pathglob", cur}} {
		b.Run(bc.name, func(b *testing.B) {
			for range b.N {
				if n := countMatches(paths, bc.ms); n != want {
					b.Fatalf("%d matches, want %d", n, want)
				}
			}
		})
	}
}
