package provenance

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/internal/pathglob"
)

// oldGlobMatch and oldPrefixCanMatch are MatchArtifacts' matching before
// internal/pathglob (path.Match per element, "**" by hand), kept here only
// to benchmark against in one run.
func oldGlobMatch(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(name); i++ {
				if oldGlobMatch(pat[1:], name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

func oldPrefixCanMatch(pat, dir []string) bool {
	for i, d := range dir {
		if i >= len(pat) {
			return false
		}
		if pat[i] == "**" {
			return true
		}
		if ok, _ := path.Match(pat[i], d); !ok {
			return false
		}
	}
	return len(pat) > len(dir)
}

// benchTree returns the directories and files (slash-separated, relative)
// of a build tree: 40 packages of 25 directories of 50 files.
func benchTree() (dirs, files []string) {
	exts := []string{".o", ".a", ".tar.gz", ".deb", ".txt"}
	for p := range 40 {
		for d := range 25 {
			dir := fmt.Sprintf("pkg%02d/sub%02d", p, d)
			if d%5 == 0 {
				dir = fmt.Sprintf("pkg%02d/bin", p)
				if d > 0 {
					dir += fmt.Sprintf("/v%d", d)
				}
			}
			dirs = append(dirs, dir)
			for f := range 50 {
				files = append(files, fmt.Sprintf("%s/app-%d%s", dir, f%10, exts[f%len(exts)]))
			}
		}
	}
	return dirs, files
}

// benchArtifactPatterns are valid for both matchers.
var benchArtifactPatterns = []string{"**/*.tar.gz", "pkg*/bin/*.deb", "pkg0?/**/app-[0-4].o", "pkg01/sub0*/*"}

type artifactMatcher struct {
	prune func(dir string) bool // false: skip the directory
	match func(name string) bool
}

func artifactMatchers(tb testing.TB) (old, cur []artifactMatcher) {
	for _, p := range benchArtifactPatterns {
		segs := strings.Split(p, "/")
		old = append(old, artifactMatcher{
			prune: func(dir string) bool { return oldPrefixCanMatch(segs, strings.Split(dir, "/")) },
			match: func(name string) bool { return oldGlobMatch(segs, strings.Split(name, "/")) },
		})
		g, err := pathglob.Compile(p)
		if err != nil {
			tb.Fatal(err)
		}
		cur = append(cur, artifactMatcher{prune: g.CanMatchUnder, match: g.Match})
	}
	return old, cur
}

// expand is the matching MatchArtifacts does over a walked tree, in the
// worst case (nothing pruned): each directory checked for pruning, each
// file matched.
func expand(dirs, files []string, ms []artifactMatcher) (kept, matched int) {
	for _, m := range ms {
		for _, d := range dirs {
			if m.prune(d) {
				kept++
			}
		}
		for _, f := range files {
			if m.match(f) {
				matched++
			}
		}
	}
	return kept, matched
}

// TestBenchArtifactMatchersAgree: on the benchmark's tree the old matching
// and internal/pathglob prune and match alike, so BenchmarkArtifactPatterns
// compares equal work.
func TestBenchArtifactMatchersAgree(t *testing.T) {
	dirs, files := benchTree()
	old, cur := artifactMatchers(t)
	for i, p := range benchArtifactPatterns {
		for _, d := range dirs {
			if old[i].prune(d) != cur[i].prune(d) {
				t.Errorf("%q under %q: old %v, pathglob %v", p, d, old[i].prune(d), cur[i].prune(d))
			}
		}
		for _, f := range files {
			if old[i].match(f) != cur[i].match(f) {
				t.Errorf("%q on %q: old %v, pathglob %v", p, f, old[i].match(f), cur[i].match(f))
			}
		}
	}
}

// BenchmarkArtifactPatterns expands four artifact patterns over a tree of
// 1,000 directories and 50,000 files: the matching MatchArtifacts does
// (prune each directory, match each file) with the old per-element
// path.Match and with internal/pathglob (doublestar), in one run; and, for
// scale, MatchArtifacts itself on the tree written to disk (walk included).
func BenchmarkArtifactPatterns(b *testing.B) {
	dirs, files := benchTree()
	old, cur := artifactMatchers(b)
	wantKept, wantMatched := expand(dirs, files, old)
	for _, bc := range []struct {
		name string
		ms   []artifactMatcher
	}{{"path.Match-old", old}, {"pathglob", cur}} {
		b.Run(bc.name, func(b *testing.B) {
			for range b.N {
				if k, m := expand(dirs, files, bc.ms); k != wantKept || m != wantMatched {
					b.Fatalf("kept %d, matched %d; want %d, %d", k, m, wantKept, wantMatched)
				}
			}
		})
	}
	b.Run("MatchArtifacts-disk", func(b *testing.B) {
		root := b.TempDir()
		for _, f := range files {
			p := filepath.Join(root, filepath.FromSlash(f))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		for range b.N {
			if _, err := MatchArtifacts(root, benchArtifactPatterns); err != nil {
				b.Fatal(err)
			}
		}
	})
}
