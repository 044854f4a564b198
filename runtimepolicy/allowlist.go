package runtimepolicy

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"strings"

	"github.com/attest-build/attest-build/internal/hugepage"
)

// Allowlist maps file paths to their accepted digests, compactly. A
// path's directory (up to its last '/') is kept once, by number; each
// entry is one record in an arena of fixed-size chunks (appended, never
// copied as the list grows): the directory's number, the file name's
// length and bytes, then its digests (algorithm code, length, bytes). An
// open-addressing table of 64-bit slots, each a 32-bit tag of the path's
// hash beside the record's reference, indexes the records by a hash of the
// whole path seeded afresh for each Allowlist, so that a lookup hashes the
// path and reads one slot's cache line and the record (name and digest
// side by side). A 200,000-path allowlist of SHA-256 digests in 7,000
// directories holds about 13 MB: 56 bytes an entry, and 11 a table slot.
//
// A large runtime policy is read in two parts at once (ReadAt): the second
// part's records are made into a part of their own (no table) and merged
// in when the first part's reading reaches them; a part's chunks keep
// their own directory numbers, offset by the chunk's base.
//
// A path may be added more than once (from several sources); Lookup
// accepts a digest any of its entries lists. Add and Lookup must not run
// at once; Lookup may run on several goroutines once adding is done.
type Allowlist struct {
	seed   maphash.Seed
	algs   []string // digest algorithm names by code - 1
	chunks [][]byte // records; len is what is used
	bases  []uint32 // by chunk: added to its records' directory numbers
	dirs   map[string]uint32
	dirOf  []string // dirs by number
	slots  []uint64 // tag<<32 | ref+1; 0 is empty
	n      int
	nDig   int
	// spare are chunks carved from one allocation (Reserve), taken before
	// new ones are made.
	spare [][]byte
	// A part (NewPart) has no table: it keeps each record's hash, in
	// order, for merge to index them.
	part   bool
	hashes []uint64
}

// A record's reference: chunk index << chunkBits | offset in the chunk.
const (
	chunkBits = 18
	chunkSize = 1 << chunkBits // a larger record has a chunk of its own
	maxChunks = (1<<32 - 1) >> chunkBits
)

// code returns the code of an algorithm name (its index in a.algs + 1),
// adding the name when add is set; 0 when it is unknown (or more than 255
// names are in use).
func (a *Allowlist) code(alg string, add bool) byte {
	for i, n := range a.algs {
		if n == alg {
			return byte(i + 1)
		}
	}
	if !add || len(a.algs) >= 255 {
		return 0
	}
	a.algs = append(a.algs, alg)
	return byte(len(a.algs))
}

// algBySize names a bare digest's algorithm by its size.
func algBySize(n int) string {
	switch n {
	case 20:
		return "sha1"
	case 32:
		return "sha256"
	case 48:
		return "sha384"
	case 64:
		return "sha512"
	}
	return ""
}

// NewAllowlist returns an empty Allowlist.
func NewAllowlist() *Allowlist { return &Allowlist{seed: maphash.MakeSeed()} }

// Len returns the number of distinct entries added (a path added twice
// counts twice).
func (a *Allowlist) Len() int { return a.n }

// Digests returns the number of digests added.
func (a *Allowlist) Digests() int { return a.nDig }

// Digest is an accepted file digest: an algorithm (as IMA names it: sha1,
// sha256, sha384, sha512, sm3, ...) and its bytes.
type Digest struct {
	Alg   string
	Bytes []byte
}

// ParseDigest parses "alg:hex", or bare hex whose algorithm is named by its
// size (sha1, sha256, sha384, sha512; Keylime writes bare hex). A digest of
// sha1, sha256, sha384, sha512, sm3 or md5 must have that algorithm's size.
func ParseDigest(s string) (Digest, error) {
	alg, hx, ok := strings.Cut(s, ":")
	if !ok {
		hx, alg = s, ""
	}
	b, err := hex.DecodeString(hx)
	if err != nil || len(b) == 0 {
		return Digest{}, fmt.Errorf("digest %q: want hex or alg:hex", s)
	}
	if alg == "" {
		if alg = algBySize(len(b)); alg == "" {
			return Digest{}, fmt.Errorf("digest %q: %d bytes is no known digest size; write alg:hex", s, len(b))
		}
	}
	alg = strings.ToLower(alg)
	if want, known := digestSizes[alg]; known && want != len(b) {
		return Digest{}, fmt.Errorf("digest %q: %s needs %d bytes, found %d", s, alg, want, len(b))
	}
	return Digest{Alg: alg, Bytes: b}, nil
}

// ParseDigestInto is ParseDigest of bytes, decoding into dst's storage
// (64 bytes hold every digest size), for readers of many digests.
func ParseDigestInto(s, dst []byte) (Digest, error) { return parseDigestInto(s, dst) }

// parseDigestInto is ParseDigest of bytes, decoding into dst's storage.
func parseDigestInto(s, dst []byte) (Digest, error) {
	alg, hx, ok := bytes.Cut(s, []byte(":"))
	if !ok {
		hx, alg = s, nil
	}
	if len(hx) == 0 || len(hx)%2 != 0 || len(hx)/2 > len(dst) {
		return ParseDigest(string(s)) // the slow path names the error
	}
	n, err := hex.Decode(dst[:len(hx)/2], hx)
	if err != nil {
		return ParseDigest(string(s))
	}
	b := dst[:n]
	name := algBySize(n)
	if alg != nil {
		name = strings.ToLower(string(alg))
	}
	if name == "" {
		return ParseDigest(string(s))
	}
	if want, known := digestSizes[name]; known && want != n {
		return ParseDigest(string(s))
	}
	return Digest{Alg: name, Bytes: b}, nil
}

// String returns "alg:hex".
func (d Digest) String() string { return d.Alg + ":" + hex.EncodeToString(d.Bytes) }

var digestSizes = map[string]int{"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64, "sm3": 32, "md5": 16}

// Add adds a path with its accepted digests (at least one).
func (a *Allowlist) Add(path string, digests ...Digest) error {
	return a.AddBytes([]byte(path), digests...)
}

// AddBytes is Add of a path held as bytes, which it copies.
func (a *Allowlist) AddBytes(path []byte, digests ...Digest) error {
	if len(path) == 0 || len(digests) == 0 {
		return fmt.Errorf("allowlist: path %q with %d digests", path, len(digests))
	}
	_, err := a.add(path, digests, -1)
	return err
}

// Grow makes room in the table for about paths more entries, so that a
// large list is indexed once rather than rebuilt as it grows. The records
// need no room made: they go to chunks allocated as they fill.
func (a *Allowlist) Grow(paths int) {
	if want := tableSize(a.n + paths); want > len(a.slots) {
		a.resize(want)
	}
}

// Reserve makes room for about n bytes of records in one allocation,
// backed by huge pages where the kernel gives them (internal/hugepage), so
// that a large list's records cost a few page faults and one step of the
// heap's growth rather than a fault per 4 KiB and a garbage collection
// every few chunks. Memory past what the records use is never touched.
func (a *Allowlist) Reserve(n int) {
	if n < 2*chunkSize {
		return
	}
	arena := make([]byte, n)
	hugepage.Advise(arena)
	if a.part && a.hashes == nil {
		a.hashes = make([]uint64, 0, n/56) // records of a path and a SHA-256 digest: about 60 bytes
	}
	for off := 0; off+chunkSize <= n; off += chunkSize {
		a.spare = append(a.spare, arena[off:off:off+chunkSize])
	}
}

// tableSize is the number of slots for n entries: a load of about 0.7.
func tableSize(n int) int { return max(64, n+n*3/7) }

// Compact shrinks the table to the entries added when Grow, or growth,
// left it more than half again as large as they need.
func (a *Allowlist) Compact() {
	if want := tableSize(a.n); len(a.slots) > want*3/2 {
		a.resize(want)
	}
}

// mark returns the reference the next record will have; records added
// later have larger ones.
func (a *Allowlist) mark() int64 {
	if len(a.chunks) == 0 {
		return 0
	}
	last := len(a.chunks) - 1
	return int64(last)<<chunkBits + int64(len(a.chunks[last]))
}

// add adds an entry; when from >= 0 and an entry whose record is at from
// (a mark) or later has the same path, it adds nothing and returns dup.
func (a *Allowlist) add(path []byte, digests []Digest, from int64) (dup bool, err error) {
	cut := bytes.LastIndexByte(path, '/') + 1
	dir, name := path[:cut], path[cut:]
	id, known := a.dirs[string(dir)]
	h := maphash.Bytes(a.seed, path)
	if from >= 0 && known && !a.part {
		if find(a, h, dir, name, from) {
			return true, nil
		}
	}
	size := 2*binary.MaxVarintLen32 + len(name) + binary.MaxVarintLen32
	digLen := 0
	for _, d := range digests {
		if a.code(d.Alg, true) == 0 || len(d.Bytes) == 0 || len(d.Bytes) > 255 {
			return false, fmt.Errorf("allowlist: %s: digest %s:%x", path, d.Alg, d.Bytes)
		}
		digLen += 2 + len(d.Bytes)
	}
	size += digLen
	last := len(a.chunks) - 1
	if last < 0 || cap(a.chunks[last])-len(a.chunks[last]) < size {
		if len(a.chunks) >= maxChunks {
			return false, fmt.Errorf("allowlist: more than %d chunks of paths and digests", maxChunks)
		}
		var c []byte
		if size <= chunkSize && len(a.spare) > 0 {
			c, a.spare = a.spare[0], a.spare[1:]
		} else {
			c = make([]byte, 0, max(chunkSize, size))
		}
		a.chunks = append(a.chunks, c)
		a.bases = append(a.bases, 0)
		last++
	}
	if !known {
		if a.dirs == nil {
			a.dirs = map[string]uint32{}
		}
		id = uint32(len(a.dirOf))
		a.dirs[string(dir)] = id
		a.dirOf = append(a.dirOf, string(dir))
	}
	c := a.chunks[last]
	ref := uint32(last)<<chunkBits | uint32(len(c))
	c = binary.AppendUvarint(c, uint64(id))
	c = binary.AppendUvarint(c, uint64(len(name)))
	c = append(c, name...)
	c = binary.AppendUvarint(c, uint64(digLen))
	for _, d := range digests {
		c = append(c, a.code(d.Alg, false), byte(len(d.Bytes)))
		c = append(c, d.Bytes...)
	}
	if cap(c) > chunkSize {
		c = c[:len(c):len(c)] // a chunk of its own: nothing goes after it
	}
	a.chunks[last] = c
	a.n++
	a.nDig += len(digests)
	if a.part {
		a.hashes = append(a.hashes, h)
		return false, nil
	}
	if len(a.slots) < tableSize(a.n) {
		a.resize(max(tableSize(a.n), 2*len(a.slots))) // ref included
		return false, nil
	}
	a.insert(h, ref)
	return false, nil
}

// find reports whether an entry of path dir+name with hash h is at ref
// from (a mark) or later.
func find[S string | []byte](a *Allowlist, h uint64, dir S, name []byte, from int64) bool {
	tag := uint32(h >> 32)
	for i := a.index(h); a.slots[i] != 0; i = a.next(i) {
		s := a.slots[i]
		ref := uint32(s) - 1
		if uint32(s>>32) == tag && int64(ref) >= from {
			if d, n, _ := a.record(ref); bytes.Equal(n, name) && a.dirOf[d] == string(dir) {
				return true
			}
		}
	}
	return false
}

// recordHash is the hash of the path of a record: its directory's and
// name's bytes hashed as one string (maphash hashes the bytes written,
// however they are split), as add and Lookup hash the path.
func (a *Allowlist) recordHash(dir uint32, name []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(a.seed)
	h.WriteString(a.dirOf[dir])
	h.Write(name)
	return h.Sum64()
}

// index returns the first slot of hash h: its low half scaled to the
// table, so that the tag (the high half) is independent of it.
func (a *Allowlist) index(h uint64) int {
	return int(uint64(uint32(h)) * uint64(len(a.slots)) >> 32)
}

func (a *Allowlist) next(i int) int {
	if i++; i == len(a.slots) {
		return 0
	}
	return i
}

func (a *Allowlist) insert(h uint64, ref uint32) {
	i := a.index(h)
	for a.slots[i] != 0 {
		i = a.next(i)
	}
	a.slots[i] = h>>32<<32 | uint64(ref+1)
}

// record returns the directory number, file name and digest records of
// the record at ref.
func (a *Allowlist) record(ref uint32) (dir uint32, name, digs []byte) {
	ci := ref >> chunkBits
	dir, name, digs, _ = parseRecord(a.chunks[ci], int(ref&(chunkSize-1)))
	return a.bases[ci] + dir, name, digs
}

// uvarint reads a uvarint at off in c (one byte for most).
func uvarint(c []byte, off int) (v, next int) {
	if c[off] < 0x80 {
		return int(c[off]), off + 1
	}
	x, k := binary.Uvarint(c[off:])
	return int(x), off + k
}

// parseRecord reads the record at off in a chunk and returns where the
// next begins.
func parseRecord(c []byte, off int) (dir uint32, name, digs []byte, end int) {
	d, off := uvarint(c, off)
	n, off := uvarint(c, off)
	name = c[off : off+n]
	n, off = uvarint(c, off+n)
	return uint32(d), name, c[off : off+n], off + n
}

// eachRecord calls f for every record in the order added, until f returns
// false.
func (a *Allowlist) eachRecord(f func(ref, dir uint32, name, digs []byte) bool) {
	for ci, c := range a.chunks {
		for off := 0; off < len(c); {
			d, n, g, end := parseRecord(c, off)
			if !f(uint32(ci)<<chunkBits|uint32(off), a.bases[ci]+d, n, g) {
				return
			}
			off = end
		}
	}
}

// resize rebuilds the table with size slots from the records, read in the
// order added.
func (a *Allowlist) resize(size int) {
	a.slots = make([]uint64, size)
	a.eachRecord(func(ref, dir uint32, name, _ []byte) bool {
		a.insert(a.recordHash(dir, name), ref)
		return true
	})
}

// Lookup reports whether path is listed (found), whether the digest alg:d
// is among its accepted digests (accepted), and how many digests the path
// lists. It does not allocate.
func (a *Allowlist) Lookup(path, alg string, d []byte) (found, accepted bool, n int) {
	if a.n == 0 || len(a.slots) == 0 { // empty, or a part (no table)
		return false, false, 0
	}
	cut := strings.LastIndexByte(path, '/') + 1
	dirName, name := path[:cut], path[cut:]
	code := a.code(alg, false)
	h := maphash.String(a.seed, path)
	tag := uint32(h >> 32)
	for i := a.index(h); ; i = a.next(i) {
		s := a.slots[i]
		if s == 0 {
			return found, accepted, n
		}
		if uint32(s>>32) != tag {
			continue
		}
		dir, p, recs := a.record(uint32(s) - 1)
		if string(p) != name || a.dirOf[dir] != dirName {
			continue
		}
		found = true
		for len(recs) >= 2 {
			l := int(recs[1])
			if !accepted && code != 0 && recs[0] == code && bytes.Equal(recs[2:2+l], d) {
				accepted = true
			}
			recs = recs[2+l:]
			n++
		}
	}
}

// Each calls f for every entry in the order added, with its digests, until
// f returns false.
func (a *Allowlist) Each(f func(path string, digests []Digest) bool) {
	a.eachRecord(func(_, dir uint32, name, recs []byte) bool {
		var ds []Digest
		for len(recs) >= 2 {
			l := int(recs[1])
			ds = append(ds, Digest{Alg: a.algs[recs[0]-1], Bytes: bytes.Clone(recs[2 : 2+l])})
			recs = recs[2+l:]
		}
		return f(a.dirOf[dir]+string(name), ds)
	})
}

// NewPart returns an empty part of a: an Allowlist with a's hash seed that
// keeps its entries' hashes instead of a table, to be filled (AddBytes) on
// another goroutine than a's and then merged into a (Merge). A part has no
// Lookup.
func (a *Allowlist) NewPart() *Allowlist {
	return &Allowlist{seed: a.seed, part: true}
}

// Merge adds the entries of part p (NewPart) to a after a's, as adding
// each in p's order would (a path listed twice keeps both); p's storage
// moves to a, and p is not used again.
func (a *Allowlist) Merge(p *Allowlist) error {
	if !p.part || p.seed != a.seed {
		return fmt.Errorf("allowlist: merging what is not a part of this list")
	}
	_, err := a.merge(p, -1)
	return err
}

// merge adds the entries of part p to a after a's, as if added one by one
// in p's order with from (a mark): it returns the index in p of the first
// entry whose path is also that of an entry at from or later (of a, or of
// p before it), -1 when there is none; with from < 0 it does not look. On a duplicate or an error, a is
// left with some of p's entries: the caller gives it up. p's chunks move
// to a; p is not used again.
func (a *Allowlist) merge(p *Allowlist, from int64) (dup int, err error) {
	if p.n == 0 {
		return -1, nil
	}
	if len(a.chunks)+len(p.chunks) > maxChunks {
		return -1, fmt.Errorf("allowlist: more than %d chunks of paths and digests", maxChunks)
	}
	// p's algorithm codes as a's; its records are rewritten only when the
	// two differ (a part reading digests of an algorithm a has not seen).
	codes := make([]byte, len(p.algs)+1)
	same := true
	for i, alg := range p.algs {
		if codes[i+1] = a.code(alg, true); codes[i+1] == 0 {
			return -1, fmt.Errorf("allowlist: more than 255 digest algorithms")
		}
		same = same && codes[i+1] == byte(i+1)
	}
	if !same {
		p.eachRecord(func(_, _ uint32, _, recs []byte) bool {
			for len(recs) >= 2 {
				recs[0] = codes[recs[0]]
				recs = recs[2+int(recs[1]):]
			}
			return true
		})
	}
	// The table first (resize indexes the records a has), then p's records
	// and directories after a's.
	if want := tableSize(a.n + p.n); len(a.slots) < want {
		a.resize(want)
	}
	base := uint32(len(a.dirOf))
	a.dirOf = append(a.dirOf, p.dirOf...)
	if a.dirs == nil {
		a.dirs = map[string]uint32{}
	}
	for d, id := range p.dirs {
		if _, ok := a.dirs[d]; !ok {
			a.dirs[d] = base + id
		}
	}
	first := uint32(len(a.chunks))
	for i, c := range p.chunks {
		a.chunks = append(a.chunks, c)
		a.bases = append(a.bases, base+p.bases[i])
	}
	// a's next record goes to a chunk of its own (base 0), not after p's.
	last := len(a.chunks) - 1
	a.chunks[last] = a.chunks[last][:len(a.chunks[last]):len(a.chunks[last])]
	dup, k := -1, 0
	p.eachRecord(func(ref, dir uint32, name, _ []byte) bool {
		h := p.hashes[k]
		ref += first << chunkBits
		if from >= 0 && find(a, h, a.dirOf[base+dir], name, from) {
			dup = k
			return false
		}
		a.insert(h, ref)
		k++
		return true
	})
	if dup >= 0 {
		return dup, nil
	}
	a.n += p.n
	a.nDig += p.nDig
	return -1, nil
}
