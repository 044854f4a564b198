package runtimepolicy

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
)

// TestAllowlistAgainstMap: 20,000 paths, some added twice with other
// digests; Lookup agrees with a map of strings for every path, digest and
// algorithm, listed or not.
func TestAllowlistAgainstMap(t *testing.T) {
	al := NewAllowlist()
	ref := map[string]map[string]bool{}
	dig := func(i int) []byte { d := sha256.Sum256([]byte(fmt.Sprint(i))); return d[:] }
	for i := range 20000 {
		p := fmt.Sprintf("/usr/lib/%d/lib%d.so", i%97, i)
		ds := []Digest{{"sha256", dig(i)}}
		if i%5 == 0 {
			ds = append(ds, Digest{"sha1", dig(-i)[:20]})
		}
		if err := al.Add(p, ds...); err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 { // a second source for the path
			if err := al.Add(p, Digest{"sha256", dig(i + 1000000)}); err != nil {
				t.Fatal(err)
			}
		}
		for _, d := range ds {
			if ref[p] == nil {
				ref[p] = map[string]bool{}
			}
			ref[p][d.String()] = true
		}
		if i%7 == 0 {
			ref[p][Digest{"sha256", dig(i + 1000000)}.String()] = true
		}
	}
	for i := range 25000 {
		p := fmt.Sprintf("/usr/lib/%d/lib%d.so", i%97, i)
		for _, d := range []Digest{{"sha256", dig(i)}, {"sha1", dig(-i)[:20]}, {"sha256", dig(i + 1000000)}, {"sha384", dig(i)}} {
			found, ok, n := al.Lookup(p, d.Alg, d.Bytes)
			if found != (ref[p] != nil) || ok != ref[p][d.String()] || n != len(ref[p]) {
				t.Fatalf("%s %s: found %v accepted %v n %d; a map says %v %v %d", p, d, found, ok, n, ref[p] != nil, ref[p][d.String()], len(ref[p]))
			}
		}
	}
	if al.Digests() != func() (n int) {
		for _, s := range ref {
			n += len(s)
		}
		return
	}() {
		t.Errorf("Digests %d", al.Digests())
	}
}

// TestAllowlistDirectories: paths are kept as directory and file name, so
// the same name in two directories, a path without '/', and paths ending
// in '/' are told apart, and Each gives every path back whole.
func TestAllowlistDirectories(t *testing.T) {
	al := NewAllowlist()
	paths := []string{"/usr/bin/ls", "/bin/ls", "ls", "boot_aggregate", "/", "/usr/bin/", "/usr/bin", "usr/bin/ls"}
	for i, p := range paths {
		if err := al.Add(p, Digest{"sha256", bytes.Repeat([]byte{byte(i)}, 32)}); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range paths {
		for j := range paths {
			found, ok, n := al.Lookup(p, "sha256", bytes.Repeat([]byte{byte(j)}, 32))
			if !found || ok != (i == j) || n != 1 {
				t.Errorf("%q with digest %d: found %v accepted %v n %d", p, j, found, ok, n)
			}
		}
	}
	for _, p := range []string{"/usr/bin/l", "/usr/ls", "bin/ls", "/bin/", "", "/usr/bin//ls"} {
		if found, _, _ := al.Lookup(p, "sha256", make([]byte, 32)); found {
			t.Errorf("%q found", p)
		}
	}
	var got []string
	al.Each(func(p string, ds []Digest) bool { got = append(got, p); return true })
	if fmt.Sprint(got) != fmt.Sprint(paths) {
		t.Errorf("Each gives %q, want %q", got, paths)
	}
}

// TestAllowlistLongRecord: a record larger than a chunk gets one of its
// own, and the records after it still resolve (their offsets fit).
func TestAllowlistLongRecord(t *testing.T) {
	al := NewAllowlist()
	long := "/" + strings.Repeat("d", chunkSize+100)
	want := []string{"/a", long, "/b", long + "/c"}
	for i := range 2000 {
		want = append(want, fmt.Sprintf("/x/%d", i))
	}
	for i, p := range want {
		if err := al.Add(p, Digest{"sha256", bytes.Repeat([]byte{byte(i)}, 32)}); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range want {
		if found, ok, _ := al.Lookup(p, "sha256", bytes.Repeat([]byte{byte(i)}, 32)); !found || !ok {
			t.Fatalf("%.20q: found %v accepted %v", p, found, ok)
		}
	}
}

// TestAllowlistReserve: records added after Reserve go to the reserved
// room (no allocation for them), and read back as added.
func TestAllowlistReserve(t *testing.T) {
	for _, reserve := range []int{0, 8 << 20} {
		al := NewAllowlist()
		al.Grow(100000)
		al.Reserve(reserve)
		d := Digest{"sha256", bytes.Repeat([]byte{7}, 32)}
		paths := make([][]byte, 50000)
		for i := range paths {
			paths[i] = fmt.Appendf(nil, "/usr/lib/x86_64-linux-gnu/libthing-%06d.so.1", i)
		}
		if _, err := al.add([]byte("/usr/lib/x86_64-linux-gnu/first"), []Digest{d}, -1); err != nil {
			t.Fatal(err) // the directory's map entry and the first chunk
		}
		allocs := testing.AllocsPerRun(1, func() {
			for _, p := range paths {
				if _, err := al.add(p, []Digest{d}, -1); err != nil {
					t.Fatal(err)
				}
			}
		})
		// The list of chunks grows either way (3-4 allocations); each
		// chunk of records is one more without Reserve (14 in all).
		if reserve > 0 && allocs > 5 || reserve == 0 && allocs < 10 {
			t.Errorf("Reserve(%d): %.0f allocations adding %d entries (about 4 MB of records)", reserve, allocs, 2*len(paths))
		}
		for _, p := range paths {
			if found, ok, n := al.Lookup(string(p), "sha256", d.Bytes); !found || !ok || n != 2 {
				t.Fatalf("Reserve(%d): Lookup(%s): %v %v %d", reserve, p, found, ok, n)
			}
		}
	}
}

// TestAllowlistPart: a part has no table, so Lookup finds nothing in it
// (rather than failing); merged, its entries are found, a path listed twice
// keeping both digests; a part of another list is refused.
func TestAllowlistPart(t *testing.T) {
	al := NewAllowlist()
	d1, d2 := Digest{"sha256", bytes.Repeat([]byte{1}, 32)}, Digest{"sha256", bytes.Repeat([]byte{2}, 32)}
	if err := al.Add("/usr/bin/a", d1); err != nil {
		t.Fatal(err)
	}
	p := al.NewPart()
	for _, path := range []string{"/usr/bin/a", "/usr/bin/b"} {
		if err := p.Add(path, d2); err != nil {
			t.Fatal(err)
		}
	}
	if found, _, _ := p.Lookup("/usr/bin/b", "sha256", d2.Bytes); found {
		t.Fatal("Lookup in a part found an entry")
	}
	if err := NewAllowlist().Merge(al.NewPart()); err == nil {
		t.Fatal("merged a part of another list")
	}
	if err := al.Merge(p); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		d    Digest
		n    int
	}{{"/usr/bin/a", d1, 2}, {"/usr/bin/a", d2, 2}, {"/usr/bin/b", d2, 1}} {
		if found, ok, n := al.Lookup(c.path, c.d.Alg, c.d.Bytes); !found || !ok || n != c.n {
			t.Errorf("Lookup(%s, %s) after Merge: %v %v %d", c.path, c.d, found, ok, n)
		}
	}
}
