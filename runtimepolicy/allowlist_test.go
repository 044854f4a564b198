package runtimepolicy

import (
	"crypto/sha256"
	"fmt"
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
