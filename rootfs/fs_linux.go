package rootfs

import (
	"io/fs"
	"os"
	"syscall"
)

// fsID names the file system a path is on: its device and its type
// (statfs f_type, e.g. PROC_SUPER_MAGIC).
type fsID struct {
	dev  uint64
	kind int64
}

func fsInfo(path string) (fsID, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return fsID{}, err
	}
	var sf syscall.Statfs_t
	if err := syscall.Statfs(path, &sf); err != nil {
		return fsID{}, err
	}
	return fsID{dev: st.Dev, kind: int64(sf.Type)}, nil
}

// openNoFollow opens a regular file for reading without following a
// symbolic link or blocking on a FIFO put in its place.
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}

// ownerOf returns the uid of a file's owner.
func ownerOf(fi fs.FileInfo) uint32 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid
	}
	return ^uint32(0)
}
