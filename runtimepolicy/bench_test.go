package runtimepolicy

import (
	"bytes"
	"fmt"
	"os"
	"testing"
)

// BenchmarkRead reads a 200,000-path runtime policy (the size of a
// distribution's, keylime#1167) into an Allowlist, as a stream (Read) and
// in two parts at once (ReadAt).
func BenchmarkRead(b *testing.B) {
	var doc bytes.Buffer
	w := NewWriter(&doc)
	for i := range 200000 {
		d := make([]byte, 32)
		fmt.Sscanf(fmt.Sprintf("%064x", i), "%x", &d)
		w.Add(fmt.Sprintf("/usr/lib/x86_64-linux-gnu/p%d/lib%d.so.%d", i%300, i, i%7), d)
	}
	w.Close([]string{"/var/log/.*"})
	if f := os.Getenv("ATTEST_BUILD_BENCH_RUNTIME_POLICY"); f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		doc.Reset()
		doc.Write(data)
	}
	// Read as a stream, and ReadAt in two parts at once (as verify reads a
	// policy file); the table sized at once, as verify does.
	for _, c := range []struct {
		name string
		read func(al *Allowlist) error
	}{
		{"stream", func(al *Allowlist) error { _, err := Read(bytes.NewReader(doc.Bytes()), al); return err }},
		{"parts", func(al *Allowlist) error {
			_, err := ReadAt(bytes.NewReader(doc.Bytes()), int64(doc.Len()), al)
			return err
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(doc.Len()))
			b.ReportAllocs()
			for b.Loop() {
				al := NewAllowlist()
				al.Grow(doc.Len() / 110)
				if err := c.read(al); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLookup looks up every path of a 200,000-path allowlist once,
// in an order unrelated to the table's (as a log's entries come).
func BenchmarkLookup(b *testing.B) {
	al := NewAllowlist()
	var paths []string
	var digs [][]byte
	for i := range 200000 {
		d := make([]byte, 32)
		d[0], d[1], d[2] = byte(i), byte(i>>8), byte(i>>16)
		p := fmt.Sprintf("/usr/lib/x86_64-linux-gnu/p%d/lib%d.so.%d", i%300, i, i%7)
		al.Add(p, Digest{"sha256", d})
		paths, digs = append(paths, p), append(digs, d)
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range paths {
			j := (i * 7919) % len(paths)
			if _, ok, _ := al.Lookup(paths[j], "sha256", digs[j]); !ok {
				b.Fatal(paths[j])
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(paths)), "ns/lookup")
}
