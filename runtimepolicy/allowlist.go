package runtimepolicy

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"math/bits"
	"slices"
	"strings"
)

// Allowlist maps file paths to their accepted digests, compactly: paths
// and digests are kept as bytes in two arenas, and an open-addressing
// table of 32-bit entry numbers indexes the paths by a hash seeded afresh
// for each Allowlist. A 200,000-path allowlist of SHA-256 digests holds
// about 20 MB, against several hundred for maps of strings.
//
// A path may be added more than once (from several sources); Lookup
// accepts a digest any of its entries lists. Add and Lookup must not run
// at once; Lookup may run on several goroutines once adding is done.
type Allowlist struct {
	seed  maphash.Seed
	algs  []string // digest algorithm names by code - 1
	paths []byte
	digs  []byte // per digest: algorithm code, length, bytes
	ents  []entry
	slots []uint32 // entry index + 1; 0 is empty
	nDig  int
}

type entry struct {
	pathOff, digOff uint32
	pathLen, digLen uint32 // digLen: bytes of this entry's digest records
	hash            uint32 // the path hash's low bits, to skip most mismatches
	nDig            uint32
}

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
func (a *Allowlist) Len() int { return len(a.ents) }

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

const maxArena = 1<<32 - 1

// Add adds a path with its accepted digests (at least one).
func (a *Allowlist) Add(path string, digests ...Digest) error {
	if path == "" || len(digests) == 0 {
		return fmt.Errorf("allowlist: path %q with %d digests", path, len(digests))
	}
	_, err := a.add([]byte(path), digests, -1)
	return err
}

// Grow makes room for about paths more entries of pathBytes and
// digestBytes in all, so that a large list is not copied as it grows.
func (a *Allowlist) Grow(paths, pathBytes, digestBytes int) {
	a.paths = slices.Grow(a.paths, pathBytes)
	a.digs = slices.Grow(a.digs, digestBytes)
	a.ents = slices.Grow(a.ents, paths)
	if want := 1 << bits.Len(uint(4*(len(a.ents)+paths))); want > len(a.slots) {
		a.resize(want)
	}
}

// add adds an entry; when from >= 0 and an entry numbered from or later has
// the same path, it adds nothing and returns dup.
func (a *Allowlist) add(path []byte, digests []Digest, from int) (dup bool, err error) {
	h := maphash.Bytes(a.seed, path)
	if from >= 0 && len(a.slots) > 0 {
		mask := uint64(len(a.slots) - 1)
		for i := h & mask; a.slots[i] != 0; i = (i + 1) & mask {
			k := int(a.slots[i] - 1)
			e := &a.ents[k]
			if k >= from && e.hash == uint32(h) && bytes.Equal(a.paths[e.pathOff:e.pathOff+e.pathLen], path) {
				return true, nil
			}
		}
	}
	e := entry{pathOff: uint32(len(a.paths)), pathLen: uint32(len(path)), digOff: uint32(len(a.digs)), nDig: uint32(len(digests)), hash: uint32(h)}
	for _, d := range digests {
		c := a.code(d.Alg, true)
		if c == 0 || len(d.Bytes) == 0 || len(d.Bytes) > 255 {
			a.digs = a.digs[:e.digOff]
			return false, fmt.Errorf("allowlist: %s: digest %s:%x", path, d.Alg, d.Bytes)
		}
		a.digs = append(a.digs, c, byte(len(d.Bytes)))
		a.digs = append(a.digs, d.Bytes...)
	}
	a.paths = append(a.paths, path...)
	if len(a.paths) > maxArena || len(a.digs) > maxArena || len(a.ents) >= maxArena/2 {
		return false, fmt.Errorf("allowlist: more than 4 GiB of paths or digests")
	}
	e.digLen = uint32(len(a.digs)) - e.digOff
	a.ents = append(a.ents, e)
	a.nDig += len(digests)
	a.insert(uint32(len(a.ents)), h)
	return false, nil
}

// insert puts entry number n (1-based) in the table, growing it to keep
// the load at most one half.
func (a *Allowlist) insert(n uint32, h uint64) {
	if 2*len(a.ents) > len(a.slots) {
		a.grow()
		return // grow inserted every entry, n included
	}
	mask := uint64(len(a.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		if a.slots[i] == 0 {
			a.slots[i] = n
			return
		}
	}
}

func (a *Allowlist) grow() { a.resize(max(1024, 1<<bits.Len(uint(4*len(a.ents))))) }

// resize rebuilds the table with size slots (a power of two).
func (a *Allowlist) resize(size int) {
	a.slots = make([]uint32, size)
	mask := uint64(size - 1)
	for k := range a.ents {
		e := &a.ents[k]
		h := maphash.Bytes(a.seed, a.paths[e.pathOff:e.pathOff+e.pathLen])
		for i := h & mask; ; i = (i + 1) & mask {
			if a.slots[i] == 0 {
				a.slots[i] = uint32(k + 1)
				break
			}
		}
	}
}

// Lookup reports whether path is listed (found), whether the digest alg:d
// is among its accepted digests (accepted), and how many digests the path
// lists. It does not allocate.
func (a *Allowlist) Lookup(path, alg string, d []byte) (found, accepted bool, n int) {
	if len(a.slots) == 0 {
		return false, false, 0
	}
	code := a.code(alg, false)
	h := maphash.String(a.seed, path)
	mask := uint64(len(a.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := a.slots[i]
		if s == 0 {
			return found, accepted, n
		}
		e := &a.ents[s-1]
		if e.hash != uint32(h) || int(e.pathLen) != len(path) || string(a.paths[e.pathOff:e.pathOff+e.pathLen]) != path {
			continue
		}
		found = true
		n += int(e.nDig)
		recs := a.digs[e.digOff : e.digOff+e.digLen]
		for len(recs) >= 2 {
			l := int(recs[1])
			if !accepted && code != 0 && recs[0] == code && bytes.Equal(recs[2:2+l], d) {
				accepted = true
			}
			recs = recs[2+l:]
		}
	}
}

// Each calls f for every entry in the order added, with its digests, until
// f returns false.
func (a *Allowlist) Each(f func(path string, digests []Digest) bool) {
	for _, e := range a.ents {
		var ds []Digest
		recs := a.digs[e.digOff : e.digOff+e.digLen]
		for len(recs) >= 2 {
			l := int(recs[1])
			ds = append(ds, Digest{Alg: a.algs[recs[0]-1], Bytes: recs[2 : 2+l : 2+l]})
			recs = recs[2+l:]
		}
		if !f(string(a.paths[e.pathOff:e.pathOff+e.pathLen]), ds) {
			return
		}
	}
}
