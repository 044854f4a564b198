package provenance

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/attest-build/attest-build/internal/pathglob"
	"github.com/attest-build/attest-build/predicates"
)

// ErrNoSubjects reports that a build produced no subjects to attest.
var ErrNoSubjects = errors.New("no subjects")

// ErrOutsideWorkDir reports an artifact pattern that leads out of the
// working directory once symbolic links are resolved (a symlinked directory
// pointing elsewhere, "..", or an absolute path): attest-build attests, and
// writes attestations, only inside the working directory.
var ErrOutsideWorkDir = errors.New("outside the working directory")

// MatchArtifacts expands glob patterns into the regular files they name.
// Patterns are relative to dir (or absolute) with slash separators, in
// internal/pathglob's dialect: "*", "?" and "[...]" match within one path
// element, "{a,b}" either alternative, "\" escapes, and an element "**"
// matches any number of directories, including none. Each pattern must
// match at least one regular file. The directory a pattern is walked from
// (its longest literal prefix) must resolve, symbolic links followed, to dir
// or a directory under it (else ErrOutsideWorkDir); the walk itself follows
// no symbolic link, so every match is inside dir too. Names are returned
// relative to dir (slash-separated), sorted and without duplicates; exclude
// names files never to return (the attestation itself).
func MatchArtifacts(dir string, patterns []string, exclude ...string) ([]string, error) {
	if err := CheckArtifactPatterns(patterns); err != nil {
		return nil, err
	}
	absDir, realDir, err := resolveDir(dir)
	if err != nil {
		return nil, fmt.Errorf("matching artifacts: %w", err)
	}
	skip := excludeSet(absDir, exclude)
	seen := map[string]bool{}
	var names []string
	for _, pat := range patterns {
		p := filepath.ToSlash(pat)
		if !path.IsAbs(p) {
			p = path.Join(filepath.ToSlash(absDir), p)
		} else {
			p = path.Clean(p)
		}
		if _, err := pathglob.Compile(p); err != nil {
			return nil, fmt.Errorf("artifact pattern %q: %w", pat, err)
		}
		segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
		// Walk from the longest literal prefix.
		lit := 0
		for lit < len(segs)-1 && !pathglob.HasMeta(segs[lit]) {
			lit++
		}
		root := "/" + strings.Join(segs[:lit], "/")
		rest, err := pathglob.Compile(strings.Join(segs[lit:], "/"))
		if err != nil {
			return nil, fmt.Errorf("artifact pattern %q: %w", pat, err)
		}
		realRoot, err := filepath.EvalSymlinks(root)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("artifact pattern %q: %w: it matches no regular file", pat, ErrNoSubjects)
		}
		if err != nil {
			return nil, fmt.Errorf("artifact pattern %q: %w", pat, err)
		}
		if !inside(realDir, realRoot) {
			return nil, fmt.Errorf("artifact pattern %q: %w: %s is %s, not under %s", pat, ErrOutsideWorkDir, root, realRoot, realDir)
		}
		matched := 0
		err = filepath.WalkDir(realRoot, func(fp string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel := strings.TrimPrefix(filepath.ToSlash(fp), strings.TrimSuffix(filepath.ToSlash(realRoot), "/")+"/")
			if fp == realRoot {
				rel = ""
			}
			if d.IsDir() {
				if fp != realRoot && !rest.CanMatchUnder(rel) {
					return fs.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() || !rest.Match(rel) {
				return nil
			}
			// Named as the pattern spelt it, through root.
			fp = filepath.Join(root, filepath.FromSlash(rel))
			name := subjectName(absDir, fp)
			if skip[filepath.Clean(fp)] {
				return nil
			}
			matched++
			if !seen[name] {
				seen[name] = true
				names = append(names, name)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("artifact pattern %q: %w", pat, err)
		}
		if matched == 0 {
			return nil, fmt.Errorf("artifact pattern %q: %w: it matches no regular file", pat, ErrNoSubjects)
		}
	}
	sort.Strings(names)
	return names, nil
}

// CheckArtifactPatterns checks artifact patterns (MatchArtifacts) without
// matching them, so that a bad one is refused before the build: an error
// wrapping pathglob.ErrBadPattern names the pattern and what is wrong.
func CheckArtifactPatterns(patterns []string) error {
	for _, pat := range patterns {
		if _, err := pathglob.Compile(filepath.ToSlash(pat)); err != nil {
			return fmt.Errorf("artifact pattern: %w", err)
		}
	}
	return nil
}

// resolveDir returns dir as an absolute path and with its symbolic links
// resolved.
func resolveDir(dir string) (abs, real string, err error) {
	if abs, err = filepath.Abs(dir); err != nil {
		return "", "", err
	}
	if real, err = filepath.EvalSymlinks(abs); err != nil {
		return "", "", err
	}
	return abs, real, nil
}

// inside reports whether the resolved path p is dir or under it.
func inside(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// subjectName is fp relative to dir, slash-separated, when fp is inside dir;
// else fp's clean absolute path.
func subjectName(dir, fp string) string {
	if rel, err := filepath.Rel(dir, fp); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
		return filepath.ToSlash(rel)
	}
	return filepath.ToSlash(filepath.Clean(fp))
}

func excludeSet(dir string, exclude []string) map[string]bool {
	m := map[string]bool{}
	for _, e := range exclude {
		if e == "" {
			continue
		}
		if !filepath.IsAbs(e) {
			e = filepath.Join(dir, e)
		}
		m[filepath.Clean(e)] = true
		// And as a walk of the resolved directory meets it.
		if parent, err := filepath.EvalSymlinks(filepath.Dir(e)); err == nil {
			m[filepath.Join(parent, filepath.Base(e))] = true
		}
	}
	return m
}

// fileState is what a snapshot remembers of a file to tell whether the build
// created or changed it.
type fileState struct {
	size         int64
	mtime, ctime int64 // nanoseconds
	ino, dev     uint64
}

// Snapshot is the state of the regular files under a directory before the
// build, for default subject discovery.
type Snapshot struct {
	dir   string
	files map[string]fileState
}

// skipDirs are directories discovery never looks into.
var skipDirs = map[string]bool{".git": true}

// TakeSnapshot records the regular files under dir (not .git/). The walk
// starts from dir with its symbolic links resolved and follows no symbolic
// link below it, so every file found is inside dir.
func TakeSnapshot(dir string) (*Snapshot, error) {
	_, realDir, err := resolveDir(dir)
	if err != nil {
		return nil, fmt.Errorf("snapshotting %s: %w", dir, err)
	}
	s := &Snapshot{dir: realDir, files: map[string]fileState{}}
	err = walkRegular(realDir, func(fp string, st fileState) { s.files[fp] = st })
	if err != nil {
		return nil, fmt.Errorf("snapshotting %s: %w", dir, err)
	}
	return s, nil
}

// Changed returns the regular files under the snapshot's directory created or
// modified since the snapshot (size, mtime, ctime or inode differ), relative
// to it, sorted, leaving out .git/ and the excluded files. None is an error
// wrapping ErrNoSubjects that says how to name the artifacts.
func (s *Snapshot) Changed(exclude ...string) ([]string, error) {
	skip := excludeSet(s.dir, exclude)
	var names []string
	err := walkRegular(s.dir, func(fp string, st fileState) {
		if old, ok := s.files[fp]; (!ok || old != st) && !skip[fp] {
			names = append(names, subjectName(s.dir, fp))
		}
	})
	if err != nil {
		return nil, fmt.Errorf("finding the files the build wrote in %s: %w", s.dir, err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: the build created or modified no file under %s; name the artifacts with -a/--artifact PATTERN", ErrNoSubjects, s.dir)
	}
	sort.Strings(names)
	return names, nil
}

func walkRegular(dir string, fn func(string, fileState)) error {
	return filepath.WalkDir(dir, func(fp string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if fp != dir && skipDirs[d.Name()] {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		st := fileState{size: info.Size(), mtime: info.ModTime().UnixNano()}
		if sys, ok := info.Sys().(*syscall.Stat_t); ok {
			st.ctime = sys.Ctim.Nano()
			st.ino, st.dev = sys.Ino, uint64(sys.Dev)
		}
		fn(filepath.Clean(fp), st)
		return nil
	})
}

// HashSubjects computes the SHA-256 digest of each named file (relative to
// dir, or absolute), several files in parallel, and returns the subjects in
// name order. dir is opened once; each name is opened relative to it
// (openBeneath: never above it, the last component never a symbolic link)
// and the descriptor, checked to be a regular file, is what is hashed, so a
// path swapped for a link between the walk and the hash is refused rather
// than followed. Names with control or bidirectional-formatting characters
// are refused (predicates.CheckSubjectName).
func HashSubjects(dir string, names []string) ([]predicates.Subject, error) {
	return hashSubjects(dir, names, nil)
}

// hashSubjects is HashSubjects; a non-nil stop is called before every
// megabyte read, and its first error ends all hashing at once and is
// returned (a signal is honoured within a buffer's read, not after hours of
// hashing).
func hashSubjects(dir string, names []string, stop func() error) ([]predicates.Subject, error) {
	var stopped atomic.Pointer[error]
	check := func() error {
		if e := stopped.Load(); e != nil {
			return *e
		}
		if stop == nil {
			return nil
		}
		if err := stop(); err != nil {
			stopped.CompareAndSwap(nil, &err)
			return *stopped.Load()
		}
		return nil
	}
	for _, n := range names {
		if err := predicates.CheckSubjectName(n); err != nil {
			return nil, fmt.Errorf("hashing subjects: %w", err)
		}
	}
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("hashing subjects: %w", &os.PathError{Op: "open", Path: dir, Err: err})
	}
	defer unix.Close(dfd)
	rootfd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("hashing subjects: %w", err)
	}
	defer unix.Close(rootfd)
	subjects := make([]predicates.Subject, len(names))
	errs := make([]error, len(names))
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(names)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				from, p := dfd, names[i]
				if path.IsAbs(p) {
					from, p = rootfd, strings.TrimLeft(p, "/")
				}
				subjects[i].Name = names[i]
				subjects[i].SHA256, errs[i] = hashAt(from, p, check)
			}
		}()
	}
	for i := range names {
		if check() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	if e := stopped.Load(); e != nil {
		return nil, *e
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return sortSubjects(subjects), nil
}

func hashAt(dirfd int, name string, check func() error) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	f, err := openBeneath(dirfd, name)
	if err != nil {
		return sum, fmt.Errorf("hashing subject: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	if _, err := io.CopyBuffer(h, checkedReader{f, check}, buf); err != nil {
		if e := check(); e != nil {
			return sum, e
		}
		return sum, fmt.Errorf("hashing subject %s: %w", name, err)
	}
	h.Sum(sum[:0])
	return sum, nil
}

// checkedReader calls check before each read and stops with its error. It
// also hides *os.File's WriterTo so that CopyBuffer uses the large buffer.
type checkedReader struct {
	r     io.Reader
	check func() error
}

func (c checkedReader) Read(p []byte) (int, error) {
	if err := c.check(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
