package runtimepolicy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"runtime"
	"sync/atomic"
)

// parallelMin is the size from which ReadAt reads a policy in two parts.
const parallelMin = 1 << 20

// splitSearch bounds the bytes a split looks through for its first member.
const splitSearch = 1 << 20

// ReadAt is Read of the size bytes of a runtime policy at r (a file). A
// policy of 1 MiB or more, on more than one core, is read in two parts at
// once: a second goroutine reads the members of digests from about the
// middle on into a part of al (NewPart), which is merged in (merge) when
// the first reading arrives at the member where the second began; the
// first reading then goes on after the last member the second read. The
// second reading is only a guess until then: if the first does not arrive
// exactly there (the guess was inside a string, or not in digests), it is
// given up. The result, and every error, are those of Read: a path the two
// parts both list makes the document be read again as Read reads it, for
// its error.
func ReadAt(r io.ReaderAt, size int64, al *Allowlist) (*Policy, error) {
	at := int64(-1)
	if size >= parallelMin && runtime.GOMAXPROCS(0) > 1 {
		at = size / 2
	}
	p, _, err := readAt(r, size, al, at, 256<<10)
	return p, err
}

// errSplitDup is what reading returns when merging a split found a path
// twice; readAt reads the document again for Read's error.
var errSplitDup = errors.New("a path in both parts")

// readAt is ReadAt with the second reading from byte at (none when at < 0)
// and buffers of bufSize bytes; it also returns how many paths the second
// reading gave.
func readAt(r io.ReaderAt, size int64, al *Allowlist, at int64, bufSize int) (_ *Policy, joined int, _ error) {
	s := &scanner{r: bufio.NewReaderSize(io.NewSectionReader(r, 0, size), bufSize), line: 1, src: r, size: size}
	// About 0.55 bytes of records a byte of document (a path and a SHA-256
	// digest; 0.53 in the 200,000-path fixture): room for them at once,
	// each part its own. Reserved room counts in the heap as live, so that
	// more than the records take lets the garbage grow as much before a
	// collection; records past it go to chunks made as needed.
	if at >= 0 && at < size {
		part := al.NewPart()
		part.Reserve(int((size - at) * 55 / 100))
		al.Reserve(int(at * 55 / 100))
		s.split = startSplit(r, size, at, part, bufSize)
	} else {
		al.Reserve(int(size * 55 / 100))
	}
	p, err := read(s, al)
	if s.split != nil {
		s.split.abandon()
	}
	if err == errSplitDup {
		if _, _, err = readAt(r, size, NewAllowlist(), -1, bufSize); err == nil {
			err = s.errAt(0, 1, "", "the document changed while it was read")
		}
		return nil, 0, err
	}
	return p, s.joined, err
}

// split is the second reading of a document.
type split struct {
	at    int64         // where the search for a member began
	found chan struct{} // closed once start is set
	done  chan struct{} // closed when the reading ends
	stop  atomic.Bool
	// start is the offset of the first member read (its opening quote),
	// -1 when none was found.
	start int64
	// Valid after done: the members read, into part, up to end; lines
	// counts the line breaks in [start, end).
	part  *Allowlist
	paths int
	end   int64
	lines int
}

func startSplit(r io.ReaderAt, size, at int64, part *Allowlist, bufSize int) *split {
	sp := &split{at: at, found: make(chan struct{}), done: make(chan struct{}), start: -1, part: part}
	go sp.run(r, size, at, bufSize)
	return sp
}

// run looks from at for what may be a member of digests after another:
// "]", then white space and a comma, then a member that fastMember reads;
// from there it reads members until fastMember reads no more.
func (sp *split) run(r io.ReaderAt, size, at int64, bufSize int) {
	defer close(sp.done)
	published := false
	defer func() {
		if !published {
			close(sp.found)
		}
	}()
	s := &scanner{r: bufio.NewReaderSize(io.NewSectionReader(r, at, size-at), bufSize), off: at}
	var ds []Digest
	var raw []byte
	searched := 0
	skip := func(n int) {
		s.r.Discard(n)
		s.off += int64(n)
		searched += n
	}
	for searched < splitSearch && !sp.stop.Load() {
		buf, _ := s.r.Peek(min(bufSize, 64<<10))
		if len(buf) == 0 {
			return
		}
		i := bytes.IndexByte(buf, ']')
		if i < 0 {
			skip(len(buf))
			continue
		}
		// ] , "  with white space around the comma
		j := i + 1
		for j < len(buf) && isSpace(buf[j]) {
			j++
		}
		comma := j < len(buf) && buf[j] == ','
		if comma {
			for j++; j < len(buf) && isSpace(buf[j]); j++ {
			}
		}
		if !comma || j == len(buf) || buf[j] != '"' {
			skip(j) // j > i: the search goes on
			continue
		}
		skip(j)
		start := s.off
		var ok bool
		if ds, raw, ok = s.fastMember(sp.part, true, 0, ds, raw); !ok {
			skip(1) // past the quote
			continue
		}
		sp.start, sp.paths = start, 1 // s.line counts the member's line breaks
		break
	}
	if sp.start < 0 {
		return
	}
	published = true
	close(sp.found)
	for !sp.stop.Load() {
		var ok bool
		if ds, raw, ok = s.fastMember(sp.part, false, 0, ds, raw); !ok {
			break
		}
		sp.paths++
	}
	sp.end, sp.lines = s.off, s.line
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// abandon stops the reading and waits for it to end.
func (sp *split) abandon() {
	sp.stop.Store(true)
	<-sp.done
}

// join is called by the first reading at each member boundary of digests
// (first: before its first member), with from the mark of the document's
// first entry. When the split began at the next member, only white space
// and the comma before it lying between, it merges the split's members
// into al and moves the reading to the end of them, returning how many
// there were; it gives the split up once the reading is past its start.
func (s *scanner) join(al *Allowlist, from int64, first bool) (int, error) {
	sp := s.split
	if s.off < sp.at-int64(s.r.Size()) {
		return 0, nil // not near yet (start may be read only once found is closed)
	}
	<-sp.found
	if sp.start < 0 || s.off >= sp.start {
		s.split = nil
		sp.abandon()
		return 0, nil
	}
	gap := int(sp.start - s.off)
	if gap > s.r.Size() {
		return 0, nil
	}
	b, err := s.r.Peek(gap)
	if err != nil {
		s.split = nil // the document ends before the split's start
		sp.abandon()
		return 0, nil
	}
	commas, lines := 0, 0
	for _, c := range b {
		switch c {
		case ',':
			commas++
		case '\n':
			lines++
		case ' ', '\t', '\r':
		default:
			return 0, nil // a member or more lie between: not yet
		}
	}
	if first || commas != 1 {
		s.split = nil // the split's start is not a member after this one
		sp.abandon()
		return 0, nil
	}
	s.split = nil
	<-sp.done
	dup, err := al.merge(sp.part, from)
	if err != nil {
		return 0, s.errAt(sp.start, s.line+lines, "digests", "%v", err)
	}
	if dup >= 0 {
		return 0, errSplitDup
	}
	s.line += lines + sp.lines
	s.joined += sp.paths
	s.off = sp.end
	s.r.Reset(io.NewSectionReader(s.src, sp.end, s.size-sp.end))
	return sp.paths, nil
}
