// Package rootfs hashes the files of a root file system image, a directory
// or a tar archive, into path and digest pairs for an IMA runtime policy.
//
// It applies the exclusions of Keylime's policy tool (keylime-policy create
// runtime --rootfs): the subtrees of DefaultSkip and of Options.Skip are not
// walked, nor are mount points of a file system of another type than the
// image's (proc, sysfs, tmpfs and the like); symbolic links and special
// files are not hashed, nor are files not owned by root unless
// Options.AllOwners is set, nor paths that Options.Exclude matches. Paths are
// written as IMA's ascii log and Keylime write them: absolute in the image,
// spaces replaced by '_'.
//
// Files are hashed on Options.Workers goroutines and handed to the caller
// in walk (or archive) order, so the output is reproducible; memory stays
// bounded by the files in flight, not by the image's size.
package rootfs

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"runtime"
	"strings"
	"sync"

	_ "crypto/sha1"   // the digests Options.Hash may name
	_ "crypto/sha256" //
	_ "crypto/sha512" //
)

// DefaultSkip are the image paths whose subtrees Keylime's policy tool does
// not hash: pseudo file systems, volatile and variable data, removable
// media (BASE_EXCLUDE_DIRS in keylime/policy/create_runtime_policy.py).
func DefaultSkip() []string {
	return []string{"/sys", "/run", "/proc", "/lost+found", "/dev", "/media", "/snap", "/mnt", "/var", "/tmp"}
}

// Options configure HashDir and HashTar.
type Options struct {
	// Hash is the digest algorithm: crypto.SHA256 (the default), SHA1,
	// SHA384 or SHA512.
	Hash crypto.Hash
	// Skip are image paths whose subtrees are not hashed; nil means
	// DefaultSkip (give an empty, non-nil slice to skip nothing).
	Skip []string
	// Exclude, when set, leaves out the files whose image path it matches
	// at the start (Keylime's re.match of its excludes).
	Exclude *regexp.Regexp
	// AllOwners hashes files of every owner; by default only files owned
	// by root (uid 0) are, as Keylime's tool does for a root file system.
	AllOwners bool
	// Workers is the number of hashing goroutines (default GOMAXPROCS).
	Workers int
}

// File is one hashed file.
type File struct {
	Path   string // absolute in the image, spaces replaced by '_'
	Digest []byte
	Size   int64
}

// Stats counts what a walk saw.
type Stats struct {
	Files     int   // hashed
	Bytes     int64 // hashed
	SkipDirs  int   // subtrees skipped by Skip
	OtherFS   int   // mount points of another file system type skipped
	Excluded  int   // files Exclude matched
	NotRoot   int   // files not owned by root, skipped
	Symlinks  int   // not followed
	Special   int   // devices, sockets, FIFOs: not hashed
	HardLinks int   // tar hard links, given their target's digest
}

// ErrImage reports an image that cannot be hashed as given.
var ErrImage = errors.New("rootfs")

func (o *Options) check() error {
	switch o.Hash {
	case 0:
		o.Hash = crypto.SHA256
	case crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return fmt.Errorf("%w: digest %v is not one of sha1, sha256, sha384, sha512", ErrImage, o.Hash)
	}
	if o.Skip == nil {
		o.Skip = DefaultSkip()
	}
	for i, s := range o.Skip {
		if !strings.HasPrefix(s, "/") {
			s = "/" + s
		}
		o.Skip[i] = path.Clean(s)
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return nil
}

// skipped reports whether the image path p is, or is under, a Skip path.
func (o *Options) skipped(p string) bool {
	for _, s := range o.Skip {
		if p == s || s == "/" || (strings.HasPrefix(p, s) && p[len(s)] == '/') {
			return true
		}
	}
	return false
}

// policyPath is p as IMA's ascii log and Keylime write it.
func policyPath(p string) string { return strings.ReplaceAll(p, " ", "_") }

// job is one file to hash (or, in a tar, a hard link to resolve), in order.
type job struct {
	seq  int
	path string // image path, as written
	// one of: open, the host file to open (HashDir); data, the whole
	// content (HashTar, small files); link, the image path of a tar hard
	// link's target; digest, computed already (HashTar, large files).
	open   string
	data   []byte
	link   string
	digest []byte
	size   int64
	// results
	skip string // "" or why the file is not emitted: "notroot", "special"
	err  error
}

// pipeline hashes jobs on workers and emits them in sequence order.
type pipeline struct {
	ctx    context.Context
	opts   *Options
	jobs   chan *job
	done   chan *job
	tokens chan struct{} // bounds the jobs in flight
	stats  Stats
	wg     sync.WaitGroup
}

func newPipeline(ctx context.Context, opts *Options, hashJob func(*job, []byte)) *pipeline {
	p := &pipeline{ctx: ctx, opts: opts, jobs: make(chan *job, 4*opts.Workers), done: make(chan *job, 4*opts.Workers),
		tokens: make(chan struct{}, 64*opts.Workers)}
	for range opts.Workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			buf := make([]byte, 256<<10)
			for j := range p.jobs {
				hashJob(j, buf)
				p.done <- j
			}
		}()
	}
	go func() { p.wg.Wait(); close(p.done) }()
	return p
}

// submit queues j, waiting while too many jobs are in flight. It returns
// false when ctx is done.
func (p *pipeline) submit(j *job) bool {
	select {
	case p.tokens <- struct{}{}:
	case <-p.ctx.Done():
		return false
	}
	select {
	case p.jobs <- j:
		return true
	case <-p.ctx.Done():
		return false
	}
}

// emit receives the hashed jobs and hands them to emit in sequence order;
// resolve, when not nil, sees each job first (tar hard links). It returns
// the first error of a job or of emit; after one it drains the rest.
func (p *pipeline) emit(emit func(File) error, resolve func(*job) error) error {
	pending := map[int]*job{}
	next := 0
	var first error
	for j := range p.done {
		pending[j.seq] = j
		for {
			j, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			<-p.tokens
			if first != nil {
				continue
			}
			if j.err == nil && resolve != nil {
				j.err = resolve(j)
			}
			switch {
			case j.err != nil:
				first = j.err
			case j.skip == "notroot":
				p.stats.NotRoot++
			case j.skip == "special":
				p.stats.Special++
			default:
				p.stats.Files++
				p.stats.Bytes += j.size
				first = emit(File{Path: j.path, Digest: j.digest, Size: j.size})
			}
		}
	}
	return first
}

// hashReader returns the digest of r's bytes, read through buf (r is
// wrapped so that an *os.File's WriteTo, which would copy through a buffer
// of its own, 32 KiB at a time, is not used).
func hashReader(h crypto.Hash, r io.Reader, buf []byte) ([]byte, int64, error) {
	d := h.New()
	n, err := io.CopyBuffer(d, struct{ io.Reader }{r}, buf)
	return d.Sum(nil), n, err
}

// HashDir hashes the files under dir, an unpacked image, and calls emit for
// each from the calling goroutine, in lexical walk order. The image path of
// dir/usr/bin/ls is /usr/bin/ls. It stops at the first error (of the walk,
// of a file, or of emit) and returns it with what it counted.
func HashDir(ctx context.Context, dir string, opts Options, emit func(File) error) (Stats, error) {
	if err := opts.check(); err != nil {
		return Stats{}, err
	}
	root, err := os.Stat(dir)
	if err != nil {
		return Stats{}, fmt.Errorf("%w: %w", ErrImage, err)
	}
	if !root.IsDir() {
		return Stats{}, fmt.Errorf("%w: %s is not a directory", ErrImage, dir)
	}
	rootFS, err := fsInfo(dir)
	if err != nil {
		return Stats{}, fmt.Errorf("%w: %s: %w", ErrImage, dir, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p := newPipeline(ctx, &opts, func(j *job, buf []byte) { hashFile(j, &opts, buf) })
	walkErr := make(chan error, 1)
	var walkStats Stats
	go func() {
		defer close(p.jobs)
		seq := 0
		walkErr <- walkDir(ctx, dir, rootFS, &opts, &walkStats, func(hostPath, imgPath string) bool {
			j := &job{seq: seq, path: policyPath(imgPath), open: hostPath}
			seq++
			return p.submit(j)
		})
	}()
	err = p.emit(emit, nil)
	if err != nil {
		cancel()
	}
	for range p.done { // drain after an early error
	}
	werr := <-walkErr
	p.stats.add(walkStats)
	if err == nil && werr != nil && !errors.Is(werr, context.Canceled) {
		err = werr
	}
	if err == nil {
		err = ctx.Err()
	}
	return p.stats, err
}

func (s *Stats) add(o Stats) {
	s.SkipDirs += o.SkipDirs
	s.OtherFS += o.OtherFS
	s.Excluded += o.Excluded
	s.NotRoot += o.NotRoot
	s.Symlinks += o.Symlinks
	s.Special += o.Special
}

// hashFile opens a walked file (without following a link or blocking on a
// FIFO that replaced it), checks it is a regular file of an accepted owner,
// and hashes it.
func hashFile(j *job, opts *Options, buf []byte) {
	f, err := openNoFollow(j.open)
	if err != nil {
		j.err = fmt.Errorf("%w: %s: %w", ErrImage, j.path, err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		j.err = fmt.Errorf("%w: %s: %w", ErrImage, j.path, err)
		return
	}
	if !fi.Mode().IsRegular() {
		j.skip = "special"
		return
	}
	if !opts.AllOwners && ownerOf(fi) != 0 {
		j.skip = "notroot"
		return
	}
	j.digest, j.size, err = hashReader(opts.Hash, f, buf)
	if err != nil {
		j.err = fmt.Errorf("%w: reading %s: %w", ErrImage, j.path, err)
	}
}
