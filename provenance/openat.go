package provenance

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/attest-build/attest-build/internal/atomicfile"
)

// ErrNotRegular reports a subject or an output that is not a plain regular
// file where one was expected (a symbolic link, a FIFO, a device, a
// directory).
var ErrNotRegular = errors.New("not a regular file")

// openBeneath opens name (relative, slash-separated) for reading, relative to
// the directory dirfd: every component stays beneath dirfd ("..", absolute
// symbolic links and magic links are refused), the last component must not
// be a symbolic link (O_NOFOLLOW), the open never blocks (O_NONBLOCK: a FIFO
// has no writer), and the opened descriptor must be a regular file (fstat).
// What is read is then what was checked, whatever the path turns into
// afterwards.
func openBeneath(dirfd int, name string) (*os.File, error) {
	flags := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC | unix.O_NOCTTY
	fd, err := unix.Openat2(dirfd, name, &unix.OpenHow{Flags: uint64(flags), Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS})
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
		// No openat2 (Linux before 5.6, or a seccomp filter): walk the
		// directories one by one without following any link.
		fd, err = openNoFollow(dirfd, name, flags)
	}
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("%s: %w: a symbolic link", name, ErrNotRegular)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	f := os.NewFile(uintptr(fd), name)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, &os.PathError{Op: "fstat", Path: name, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		f.Close()
		return nil, fmt.Errorf("%s: %w (mode %#o)", name, ErrNotRegular, st.Mode&unix.S_IFMT)
	}
	return f, nil
}

// openNoFollow is openBeneath's walk where openat2 is missing: each
// directory opened with O_NOFOLLOW, ".." refused.
func openNoFollow(dirfd int, name string, flags int) (int, error) {
	parts := strings.Split(name, "/")
	cur, owned := dirfd, false
	defer func() {
		if owned {
			unix.Close(cur)
		}
	}()
	for i, p := range parts {
		switch {
		case p == "..":
			return -1, unix.EXDEV
		case p == "" || p == ".":
			if i == len(parts)-1 {
				return -1, unix.EISDIR
			}
			continue
		case i == len(parts)-1:
			return unix.Openat(cur, p, flags, 0)
		}
		next, err := unix.Openat(cur, p, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, err
		}
		if owned {
			unix.Close(cur)
		}
		cur, owned = next, true
	}
	return -1, unix.EINVAL
}

// outputFile is an attestation's destination: its directory, opened once
// (symbolic links in the path resolved then and never again), and the file
// name to create in it.
type outputFile struct {
	dir  *atomicfile.Dir
	base string
	path string
}

// openOutput opens the directory of path. With workDir non-empty the
// directory, as opened, must be workDir or under it (symbolic links
// resolved), else ErrOutsideWorkDir: swapping a path component for a link
// afterwards changes nothing, since the file is created relative to the
// opened directory.
func openOutput(path, workDir string) (*outputFile, error) {
	base := filepath.Base(path)
	if base == "." || base == "/" || base == ".." {
		return nil, fmt.Errorf("writing the attestation: %s names no file", path)
	}
	dir, err := atomicfile.OpenDir(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("writing the attestation: %w", err)
	}
	o := &outputFile{dir: dir, base: base, path: path}
	if workDir != "" {
		_, realWork, err := resolveDir(workDir)
		if err != nil {
			o.close()
			return nil, fmt.Errorf("writing the attestation: %w", err)
		}
		opened, err := os.Readlink("/proc/self/fd/" + strconv.FormatUint(uint64(dir.Fd()), 10))
		if err != nil {
			o.close()
			return nil, fmt.Errorf("writing the attestation: finding where %s leads: %w", filepath.Dir(path), err)
		}
		if !inside(realWork, opened) {
			o.close()
			return nil, fmt.Errorf("writing the attestation: %s is in %s, %w %s", path, opened, ErrOutsideWorkDir, realWork)
		}
	}
	return o, nil
}

func (o *outputFile) close() { o.dir.Close() }

// write writes data atomically as the output, in the opened directory
// (atomicfile.Dir: a new temporary file, mode perm before any byte, synced,
// renamed over the name, whatever the name was, a link or a FIFO, replaced
// and never followed; then the directory synced).
func (o *outputFile) write(data []byte, perm os.FileMode) error {
	return o.dir.Write(o.base, data, perm)
}

// writeBeside writes data atomically as path, a file beside the output (a
// detached log, a bundle), in the opened directory too.
func (o *outputFile) writeBeside(path string, data []byte, perm os.FileMode) error {
	if filepath.Dir(path) != filepath.Dir(o.path) {
		return fmt.Errorf("writing %s: not beside the attestation %s", path, o.path)
	}
	return o.dir.Write(filepath.Base(path), data, perm)
}
