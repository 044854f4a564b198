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
	b := make([]byte, 0, size)
	Advise(b)
	b = b[:size]
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	kb, err := anonHugeKB(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	if err != nil {
		t.Fatal(err)
	}
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
	b := make([]byte, 0, MinSize-1)
	Advise(b)
	b = b[:cap(b)]
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	kb, err := anonHugeKB(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	if err != nil {
		t.Fatal(err)
	}
	if mode, _ := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled"); strings.Contains(string(mode), "[madvise]") && kb != 0 {
		t.Errorf("AnonHugePages of an unadvised buffer's mapping in madvise mode: %d kB, want 0", kb)
	}
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
