//go:build linux

package hugepage

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// MinSize is the smallest buffer Advise acts on: below it, the faults it
// saves do not pay for the system call and the split of the mapping.
const MinSize = 4 << 20

// Advise asks for huge pages for the whole pages inside b[:cap(b)], which
// should not have been written yet. It does nothing for a buffer smaller
// than MinSize.
func Advise(b []byte) {
	b = b[:cap(b)]
	if len(b) < MinSize {
		return
	}
	page := uintptr(os.Getpagesize())
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	first := (start + page - 1) &^ (page - 1)
	last := (start + uintptr(len(b))) &^ (page - 1)
	if last <= first {
		return
	}
	whole := b[first-start : last-start]
	_ = unix.Madvise(whole, unix.MADV_HUGEPAGE) // advice: an error leaves 4 KiB pages
}
