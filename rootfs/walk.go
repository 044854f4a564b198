package rootfs

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
)

// walkDir walks dir in lexical order and calls file for every regular file
// to hash, counting what it leaves out in st. file returns false to stop.
func walkDir(ctx context.Context, dir string, root fsID, opts *Options, st *Stats, file func(hostPath, imgPath string) bool) error {
	return filepath.WalkDir(dir, func(host string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("%w: %w", ErrImage, err)
		}
		rel, err := filepath.Rel(dir, host)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrImage, err)
		}
		img := "/" + filepath.ToSlash(rel)
		if rel == "." {
			img = "/"
		}
		switch t := d.Type(); {
		case d.IsDir():
			if img == "/" {
				return nil
			}
			if opts.skipped(img) {
				st.SkipDirs++
				return filepath.SkipDir
			}
			id, err := fsInfo(host)
			if err != nil {
				return fmt.Errorf("%w: %s: %w", ErrImage, img, err)
			}
			if id.dev != root.dev && id.kind != root.kind {
				st.OtherFS++ // a mount point of proc, sysfs, tmpfs...
				return filepath.SkipDir
			}
		case t&fs.ModeSymlink != 0:
			st.Symlinks++
		case t.IsRegular():
			if opts.Exclude != nil && opts.Exclude.MatchString(policyPath(img)) {
				st.Excluded++
				return nil
			}
			if !file(host, img) {
				return ctx.Err()
			}
		default:
			st.Special++
		}
		return nil
	})
}
