package policy

import (
	"bufio"
	"io"
	"runtime"
	"sync/atomic"

	"github.com/attest-build/attest-build/runtimepolicy"
)

// allowSplitMin is the policy file size from which loadPolicy reads the
// ima.allow block in two parts at once.
const allowSplitMin = 1 << 20

// allowSplitSearch bounds the bytes a split looks through for its first
// item.
const allowSplitSearch = 1 << 20

// allowSplit is a second reading of a policy file's ima.allow block: from
// about the middle of the file, on another goroutine, it reads items in
// the fast layout (a "- path:" line, then its digests line two spaces
// further in, each ended by "\n") into a part of the allowlist and
// patterns of its own, until a line that is not such an item. splitAllow
// takes them (join) when its own reading arrives at the line where the
// second began, at the indentation of the block's items; until then the
// second reading is a guess, given up when the first does not arrive
// there. It stops before an item allowItem would refuse, so that the first
// reading names the error.
type allowSplit struct {
	at    int64         // where the search for an item began
	found chan struct{} // closed once start is set
	done  chan struct{} // closed when the reading ends
	stop  atomic.Bool
	// start is the offset of the first item's "- path:" line, -1 when none
	// was found; ind its indentation.
	start int64
	ind   int
	// Valid after done: the items read (into rules) up to end.
	rules imaPolicy
	items int
	end   int64
}

// startAllowSplit starts a second reading of the size bytes of src from
// byte at, with l's item checks.
func startAllowSplit(l *policyLoader, src io.ReaderAt, size, at int64, allow *runtimepolicy.Allowlist) *allowSplit {
	sp := &allowSplit{at: at, found: make(chan struct{}), done: make(chan struct{}), start: -1}
	sp.rules.allow = allow.NewPart()
	sp.rules.allow.Reserve(int(size-at) * 45 / 100)
	go sp.run(l, src, size)
	return sp
}

func (sp *allowSplit) run(l *policyLoader, src io.ReaderAt, size int64) {
	defer close(sp.done)
	published := false
	defer func() {
		if !published {
			close(sp.found)
		}
	}()
	r := bufio.NewReaderSize(io.NewSectionReader(src, sp.at, size-sp.at), 64<<10)
	off := sp.at
	// line returns the next line, with its "\n", copied into buf; ok is
	// false at the end or for a line with no "\n" or longer than the buffer.
	line := func(buf []byte) ([]byte, bool) {
		full, err := r.ReadSlice('\n')
		off += int64(len(full))
		if err != nil {
			return nil, false
		}
		return append(buf[:0], full...), true
	}
	var (
		dst      [64]byte
		ds       []runtimepolicy.Digest
		digs     [][]byte
		cur, nxt []byte
		ok       bool
	)
	// item reads the item of the lines cur and nxt at indentation ind (any
	// when ind < 0) and adds it; it returns that indentation.
	item := func(ind int) (int, bool) {
		pi, path, ok := pathLine(cur[:len(cur)-1])
		if !ok || ind >= 0 && pi != ind {
			return 0, false
		}
		di, d, ok := digestsLine(nxt[:len(nxt)-1], digs[:0])
		digs = d
		if !ok || di != pi+2 || l.allowItem(&sp.rules, 0, path, digs, 1, dst[:], &ds) != nil {
			return 0, false
		}
		return pi, true
	}
	if _, ok = line(nil); !ok { // the rest of the line at is in
		return
	}
	start := off
	if cur, ok = line(cur); !ok {
		return
	}
	for {
		if sp.stop.Load() || off-sp.at > allowSplitSearch {
			return
		}
		if nxt, ok = line(nxt); !ok {
			return
		}
		if ind, added := item(-1); added {
			sp.start, sp.ind, sp.items = start, ind, 1
			break
		}
		start, cur, nxt = start+int64(len(cur)), nxt, cur
	}
	published = true
	close(sp.found)
	sp.end = off
	for !sp.stop.Load() {
		if cur, ok = line(cur); !ok {
			break
		}
		if nxt, ok = line(nxt); !ok {
			break
		}
		if _, added := item(sp.ind); !added {
			break
		}
		sp.items++
		sp.end = off
	}
}

// abandon stops the reading and waits for it to end.
func (sp *allowSplit) abandon() {
	sp.stop.Store(true)
	<-sp.done
}

// join is splitAllow's look, at the line at offset off, before an item of
// the block's items' indentation ind: when the split began there, it adds
// its items to l's allowlist and patterns and returns how many, and the
// offset to read on from. keep is false once the split is given up: off is
// past its start, or at it with another indentation.
func (sp *allowSplit) join(l *policyLoader, off int64, ind int) (items int, resume int64, keep bool, err error) {
	if off < sp.at {
		return 0, 0, true, nil
	}
	<-sp.found
	if sp.start < 0 || off > sp.start || off == sp.start && ind != sp.ind {
		sp.abandon()
		return 0, 0, false, nil
	}
	if off < sp.start {
		return 0, 0, true, nil
	}
	<-sp.done
	if l.fastErr == nil { // after an item that failed, the items are only counted
		if err := l.fastRules.allow.Merge(sp.rules.allow); err != nil {
			return 0, 0, false, err
		}
		l.fastRules.patterns = append(l.fastRules.patterns, sp.rules.patterns...)
	}
	l.fastN += sp.items
	l.joined += sp.items
	return sp.items, sp.end, false, nil
}

// splitAt is where loadPolicy begins the second reading of a policy file
// of size bytes, -1 for none.
func splitAt(size int64) int64 {
	if size < allowSplitMin || runtime.GOMAXPROCS(0) < 2 {
		return -1
	}
	return size / 2
}
