package rootfs

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// inlineSize is the largest tar member read whole and hashed on a worker;
// larger ones are hashed as they are read (they are few, and reading the
// archive is sequential anyway).
const inlineSize = 1 << 20

// HashTar hashes the regular files of a tar archive of an image (plain,
// gzip- or zstd-compressed, detected by magic bytes) and calls emit for
// each from the calling goroutine, in archive order. A member named
// ./usr/bin/ls or usr/bin/ls has the image path /usr/bin/ls. A hard link
// gets its target's digest; a path that appears twice is refused (the
// policy could not say which copy the image holds).
func HashTar(ctx context.Context, r io.Reader, opts Options, emit func(File) error) (Stats, error) {
	if err := opts.check(); err != nil {
		return Stats{}, err
	}
	br := bufio.NewReaderSize(r, 256<<10)
	magic, _ := br.Peek(4)
	var in io.Reader = br
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return Stats{}, fmt.Errorf("%w: reading gzip: %w", ErrImage, err)
		}
		in = zr
	case bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return Stats{}, fmt.Errorf("%w: reading zstd: %w", ErrImage, err)
		}
		defer zr.Close()
		in = zr
	}
	tr := tar.NewReader(in)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p := newPipeline(ctx, &opts, func(j *job, _ []byte) {
		if j.data != nil {
			d := opts.Hash.New()
			d.Write(j.data)
			j.digest, j.data = d.Sum(nil), nil
		}
	})
	readErr := make(chan error, 1)
	var readStats Stats
	go func() {
		defer close(p.jobs)
		readErr <- readTar(ctx, tr, &opts, &readStats, p.submit)
	}()
	links := &linkTable{seen: map[[16]byte]int32{}, size: opts.Hash.Size()}
	err := p.emit(emit, links.resolve)
	if err != nil {
		cancel()
	}
	for range p.done {
	}
	rerr := <-readErr
	p.stats.add(readStats)
	p.stats.HardLinks = links.links
	if err == nil && rerr != nil && !errors.Is(rerr, context.Canceled) {
		err = rerr
	}
	if err == nil {
		err = ctx.Err()
	}
	return p.stats, err
}

// readTar reads the archive's members and submits the files to hash.
func readTar(ctx context.Context, tr *tar.Reader, opts *Options, st *Stats, submit func(*job) bool) error {
	buf := make([]byte, 256<<10)
	for seq := 0; ; {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: reading the archive: %w", ErrImage, err)
		}
		img := path.Clean("/" + strings.TrimPrefix(hdr.Name, "./"))
		if opts.skipped(img) {
			if hdr.Typeflag == tar.TypeDir && !opts.skipped(path.Dir(img)) {
				st.SkipDirs++
			}
			continue
		}
		j := &job{seq: seq, path: policyPath(img), size: hdr.Size}
		switch hdr.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeSymlink:
			st.Symlinks++
			continue
		case tar.TypeReg, tar.TypeLink:
		default:
			st.Special++
			continue
		}
		if opts.Exclude != nil && opts.Exclude.MatchString(j.path) {
			st.Excluded++
			continue
		}
		if !opts.AllOwners && hdr.Uid != 0 {
			st.NotRoot++
			continue
		}
		switch {
		case hdr.Typeflag == tar.TypeLink:
			j.link = policyPath(path.Clean("/" + strings.TrimPrefix(hdr.Linkname, "./")))
		case hdr.Size <= inlineSize:
			j.data = make([]byte, hdr.Size)
			if _, err := io.ReadFull(tr, j.data); err != nil {
				return fmt.Errorf("%w: reading %s from the archive: %w", ErrImage, j.path, err)
			}
		default:
			var n int64
			if j.digest, n, err = hashReader(opts.Hash, tr, buf); err != nil || n != hdr.Size {
				return fmt.Errorf("%w: reading %s from the archive: %d of %d bytes: %v", ErrImage, j.path, n, hdr.Size, err)
			}
		}
		seq++
		if !submit(j) {
			return ctx.Err()
		}
	}
}

// linkTable remembers the digest of every file emitted from a tar, by a
// 128-bit hash of its path (so that memory stays small), to resolve hard
// links and refuse paths that appear twice.
type linkTable struct {
	seen    map[[16]byte]int32
	digests []byte
	size    int
	links   int
}

func key(p string) [16]byte {
	s := sha256.Sum256([]byte(p))
	return [16]byte(s[:16])
}

func (t *linkTable) resolve(j *job) error {
	if j.link != "" {
		i, ok := t.seen[key(j.link)]
		if !ok {
			return fmt.Errorf("%w: %s is a hard link to %s, which the archive does not hold as a hashed file before it (skipped, excluded or not owned by root?)", ErrImage, j.path, j.link)
		}
		j.digest = append([]byte(nil), t.digests[int(i)*t.size:(int(i)+1)*t.size]...)
		t.links++
	}
	if j.skip != "" {
		return nil
	}
	k := key(j.path)
	if _, dup := t.seen[k]; dup {
		return fmt.Errorf("%w: %s appears twice in the archive: extract it (the last copy wins) and hash the directory", ErrImage, j.path)
	}
	t.seen[k] = int32(len(t.digests) / t.size)
	t.digests = append(t.digests, j.digest...)
	return nil
}
