//go:build linux

package hugepage

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestAdviseHugePages: a buffer advised before it is written is backed by
// huge pages (AnonHugePages of its mapping in /proc/self/smaps), where the
// kernel's transparent huge pages are on for advised memory.
func TestAdviseHugePages(t *testing.T) {
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || strings.Contains(string(mode), "[never]") {
		t.Skipf("transparent huge pages off or absent in this kernel (%q, %v): Advise is advice only", strings.TrimSpace(string(mode)), err)
	}
	const size = 32 << 20
	kb := adviseAndTouch(t, size)
	// At least half of the buffer's whole 2 MiB pages: the kernel may
	// fall back to small pages where it finds no free huge page.
	if kb < size/1024/2 {
		t.Errorf("AnonHugePages of the advised buffer's mapping: %d kB, want at least %d kB", kb, size/1024/2)
	}
}

// TestAdviseSmall: a buffer below MinSize is left alone (no split of its
// mapping), and Advise of a buffer of no capacity does not fail.
func TestAdviseSmall(t *testing.T) {
	Advise(nil)
	kb := adviseAndTouch(t, MinSize-1)
	if mode, _ := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled"); strings.Contains(string(mode), "[madvise]") && kb != 0 {
		t.Errorf("AnonHugePages of an unadvised buffer's mapping in madvise mode: %d kB, want 0", kb)
	}
}

// adviseAndTouch advises size bytes of fresh memory, writes a byte of
// every page, and returns the AnonHugePages of their mapping.
func adviseAndTouch(t *testing.T, size int) int {
	t.Helper()
	b := freshMemory(t, size)
	Advise(b[:0])
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	kb, err := anonHugeKB(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	if err != nil {
		t.Fatal(err)
	}
	return kb
}

// freshMemory returns size bytes of a new anonymous mapping, never
// touched: memory of Go's heap may have been written (or advised) before,
// and the kernel gives huge pages only to pages first touched after the
// advice.
func freshMemory(t *testing.T, size int) []byte {
	t.Helper()
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(b) })
	return b
}

// anonHugeKB returns the AnonHugePages of the mapping holding addr.
func anonHugeKB(addr uintptr) (int, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	in := false
	for s.Scan() {
		line := s.Text()
		fields := strings.Fields(line)
		if len(fields) > 0 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			lo, hi, _ := strings.Cut(fields[0], "-")
			l, err1 := strconv.ParseUint(lo, 16, 64)
			h, err2 := strconv.ParseUint(hi, 16, 64)
			in = err1 == nil && err2 == nil && uint64(addr) >= l && uint64(addr) < h
			continue
		}
		if in && len(fields) >= 2 && fields[0] == "AnonHugePages:" {
			return strconv.Atoi(fields[1])
		}
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no mapping in /proc/self/smaps holds %#x", addr)
}
