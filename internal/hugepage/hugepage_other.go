//go:build !linux

package hugepage

// MinSize is the smallest buffer Advise acts on.
const MinSize = 4 << 20

// Advise does nothing on this system.
func Advise(b []byte) {}
