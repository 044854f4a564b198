package runtimepolicy

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/attest-build/attest-build/rootfs"
)

// WriteImage hashes an image, a directory or a tar archive (plain, gzip or
// zstd), with rootfs and writes its files' digests to w as a runtime policy
// with the given exclude regexes (which also keep the files they match out
// of the digests, as Keylime would not look them up). It returns what the
// walk counted.
func WriteImage(ctx context.Context, w io.Writer, image string, opts rootfs.Options, excludes []string) (rootfs.Stats, error) {
	if len(excludes) > 0 {
		for i, e := range excludes {
			if _, err := regexp.Compile(e); err != nil {
				return rootfs.Stats{}, fmt.Errorf("exclude %d %q: %w", i, e, err)
			}
		}
		opts.Exclude = regexp.MustCompile(`^(?:` + strings.Join(excludes, `|`) + `)`)
	}
	fi, err := os.Stat(image)
	if err != nil {
		return rootfs.Stats{}, err
	}
	pw := NewWriter(w)
	emit := func(f rootfs.File) error { return pw.Add(f.Path, f.Digest) }
	var st rootfs.Stats
	if fi.IsDir() {
		st, err = rootfs.HashDir(ctx, image, opts, emit)
	} else {
		f, err := os.Open(image)
		if err != nil {
			return rootfs.Stats{}, err
		}
		defer f.Close()
		st, err = rootfs.HashTar(ctx, f, opts, emit)
		if err != nil {
			return st, err
		}
	}
	if err != nil {
		return st, err
	}
	return st, pw.Close(excludes)
}
