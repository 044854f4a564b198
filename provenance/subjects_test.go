package provenance_test

import (
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/provenance"
)

func writeFiles(t *testing.T, dir string, files ...string) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMatchArtifacts(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, "out.bin", "dist/a.tar.gz", "dist/sub/b.tar.gz", "dist/sub/deep/c.tar.gz", "dist/readme.txt", "src/main.c", "attestation.intoto.jsonl",
		"pkg/app-1.deb", "pkg/app-2.deb", "pkg/app-x.deb", "pkg/[draft].deb", "build/linux/app", "build/darwin/app", "build/windows/app.exe")
	if err := os.Symlink("out.bin", filepath.Join(dir, "link.bin")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		patterns []string
		want     []string
	}{
		{[]string{"out.bin"}, []string{"out.bin"}},
		{[]string{"dist/*.tar.gz"}, []string{"dist/a.tar.gz"}},
		{[]string{"dist/**/*.tar.gz"}, []string{"dist/a.tar.gz", "dist/sub/b.tar.gz", "dist/sub/deep/c.tar.gz"}},
		{[]string{"**/*.tar.gz", "dist/a.tar.gz"}, []string{"dist/a.tar.gz", "dist/sub/b.tar.gz", "dist/sub/deep/c.tar.gz"}},
		{[]string{"dist/**"}, []string{"dist/a.tar.gz", "dist/readme.txt", "dist/sub/b.tar.gz", "dist/sub/deep/c.tar.gz"}},
		{[]string{filepath.Join(dir, "src", "*.c")}, []string{"src/main.c"}},
		{[]string{"*"}, []string{"out.bin"}}, // not the symlink, not the excluded attestation
		// One dialect with the policy's patterns (internal/pathglob):
		// classes, ?, alternatives spanning elements, escapes.
		{[]string{"pkg/app-[0-9].deb"}, []string{"pkg/app-1.deb", "pkg/app-2.deb"}},
		{[]string{"pkg/app-[!0-9].deb"}, []string{"pkg/app-x.deb"}},
		{[]string{"pkg/app-?.deb"}, []string{"pkg/app-1.deb", "pkg/app-2.deb", "pkg/app-x.deb"}},
		{[]string{`pkg/\[draft\].deb`}, []string{"pkg/[draft].deb"}},
		{[]string{"build/{linux,darwin}/app"}, []string{"build/darwin/app", "build/linux/app"}},
		{[]string{"{out.bin,build/windows/*.exe}"}, []string{"build/windows/app.exe", "out.bin"}},
		{[]string{"build/**/app"}, []string{"build/darwin/app", "build/linux/app"}},
	}
	for _, tt := range tests {
		got, err := provenance.MatchArtifacts(dir, tt.patterns, "attestation.intoto.jsonl")
		if err != nil {
			t.Fatalf("%v: %v", tt.patterns, err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%v: got %v, want %v", tt.patterns, got, tt.want)
		}
	}
	for _, bad := range [][]string{{"nothing*"}, {"dist/*.zip"}, {"link.bin"}, {"dist"}} {
		if _, err := provenance.MatchArtifacts(dir, bad); !errors.Is(err, provenance.ErrNoSubjects) {
			t.Errorf("%v: err %v, want ErrNoSubjects", bad, err)
		}
	}
	for _, tc := range []struct{ pattern, want string }{
		{"[x", "is not closed"},
		{"dist/**.tar.gz", "** must be a whole path element"},
		{"pkg/[draft].deb", ""}, // a class: matches pkg/d.deb and the like, not the literal name
		{"dist/{a,b", "is not closed"},
	} {
		_, err := provenance.MatchArtifacts(dir, []string{tc.pattern})
		if tc.want == "" {
			if !errors.Is(err, provenance.ErrNoSubjects) {
				t.Errorf("%q: err %v, want ErrNoSubjects", tc.pattern, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "artifact pattern") {
			t.Errorf("%q: err %v, want an artifact pattern error saying %q", tc.pattern, err, tc.want)
		}
	}
}

func TestSnapshotChanged(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, "src/main.c", "unchanged.txt", "rewritten.txt", ".git/HEAD")
	snap, err := provenance.TakeSnapshot(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snap.Changed(); !errors.Is(err, provenance.ErrNoSubjects) {
		t.Fatalf("no change: err %v, want ErrNoSubjects", err)
	}
	// Same size, same mtime: the inode/ctime still tell the change.
	old, _ := os.Stat(filepath.Join(dir, "rewritten.txt"))
	writeFiles(t, dir, "build/app", ".git/index", "out.intoto.jsonl")
	tmp := filepath.Join(dir, "rewritten.tmp")
	os.WriteFile(tmp, []byte("REWRITTEN.TXT"), 0o644)
	os.Chtimes(tmp, old.ModTime(), old.ModTime())
	os.Rename(tmp, filepath.Join(dir, "rewritten.txt"))
	got, err := snap.Changed(filepath.Join(dir, "out.intoto.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"build/app", "rewritten.txt"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("changed %v, want %v", got, want)
	}
}

func TestHashSubjects(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, "b", "a", "c/d")
	got, err := provenance.HashSubjects(dir, []string{"c/d", "b", "a"})
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"a", "b", "c/d"} {
		if got[i].Name != name || got[i].SHA256 != sha256.Sum256([]byte(name)) {
			t.Fatalf("subject %d: %s %x", i, got[i].Name, got[i].SHA256)
		}
	}
	if _, err := provenance.HashSubjects(dir, []string{"missing"}); err == nil {
		t.Fatal("hashing a missing file is not an error")
	}
}

// Symbolic links never lead a pattern out of the working directory, whether
// the link is the walk's root, a folder above it, or reached by "**"; links
// that stay inside, and a working directory reached through a link, work.
func TestMatchArtifactsSymlinks(t *testing.T) {
	top := t.TempDir()
	work, outside := filepath.Join(top, "work"), filepath.Join(top, "outside")
	writeFiles(t, top, "work/sub/in.bin", "outside/x.bin", "outside/sub/x.bin")
	for link, target := range map[string]string{
		"work/link":   "../outside",     // a folder outside
		"work/inlink": "sub",            // a folder inside
		"worklink":    "work",           // the working directory itself
		"work/sub/up": "../../outside/", // deeper, pointing out
	} {
		if err := os.Symlink(target, filepath.Join(top, link)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		dir      string
		patterns []string
		want     []string
		err      error
	}{
		{work, []string{"link/sub/*.bin"}, nil, provenance.ErrOutsideWorkDir},
		{work, []string{"link/x.bin"}, nil, provenance.ErrOutsideWorkDir},
		{work, []string{"link/**"}, nil, provenance.ErrOutsideWorkDir},
		{work, []string{"link/*/x.bin"}, nil, provenance.ErrOutsideWorkDir},
		{work, []string{"sub/up/sub/x.bin"}, nil, provenance.ErrOutsideWorkDir},
		{work, []string{"../outside/x.bin"}, nil, provenance.ErrOutsideWorkDir},
		{work, []string{filepath.Join(outside, "*.bin")}, nil, provenance.ErrOutsideWorkDir},
		{work, []string{"sub/*.bin", "link/sub/x.bin"}, nil, provenance.ErrOutsideWorkDir},
		{work, []string{"**/*.bin"}, []string{"sub/in.bin"}, nil}, // the walk follows no link
		{work, []string{"inlink/*.bin"}, []string{"inlink/in.bin"}, nil},
		{work, []string{"inlink/in.bin"}, []string{"inlink/in.bin"}, nil},
		{filepath.Join(top, "worklink"), []string{"sub/*.bin"}, []string{"sub/in.bin"}, nil},
		{filepath.Join(top, "worklink"), []string{"**/*.bin"}, []string{"sub/in.bin"}, nil},
		{filepath.Join(top, "worklink"), []string{"link/x.bin"}, nil, provenance.ErrOutsideWorkDir},
		{work, []string{"missing/*.bin"}, nil, provenance.ErrNoSubjects},
	}
	for _, tt := range tests {
		got, err := provenance.MatchArtifacts(tt.dir, tt.patterns)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("%s %v: err %v, want %v", filepath.Base(tt.dir), tt.patterns, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s %v: got %v, %v; want %v", filepath.Base(tt.dir), tt.patterns, got, err, tt.want)
		}
	}

	// Default discovery from a working directory reached through a link.
	snap, err := provenance.TakeSnapshot(filepath.Join(top, "worklink"))
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, work, "dist/new.bin")
	writeFiles(t, outside, "new-outside.bin")
	got, err := snap.Changed(filepath.Join(top, "worklink", "dist", "new.bin.intoto.jsonl"))
	if err != nil || !reflect.DeepEqual(got, []string{"dist/new.bin"}) {
		t.Fatalf("discovery through a linked working directory: %v, %v; want [dist/new.bin]", got, err)
	}
}
