package evidence

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/attest-build/attest-build/evidence/internal/imagen"
)

var synthetic = sync.OnceValues(func() ([]byte, imagen.PCRs) {
	var buf bytes.Buffer
	p, err := imagen.Write(&buf, imagen.Options{Entries: 200000, Seed: 1, ViolationEvery: 10000})
	if err != nil {
		panic(err)
	}
	return buf.Bytes(), p
})

// BenchmarkReplay replays the synthetic 200,000-entry ima-ng log (about
// 25 MB) into the sha256 bank, sequentially and on all cores.
func BenchmarkReplay(b *testing.B) {
	log, pcrs := synthetic()
	for _, workers := range []int{1, 0} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			b.SetBytes(int64(len(log)))
			b.ReportAllocs()
			for b.Loop() {
				r, err := NewReader(bytes.NewReader(log))
				if err != nil {
					b.Fatal(err)
				}
				res, err := Replay(r, SHA256, 10, WithWorkers(workers))
				if err != nil {
					b.Fatal(err)
				}
				if !bytes.Equal(res.Value, pcrs.SHA256[:]) {
					b.Fatalf("replay gives %x, the generator %x", res.Value, pcrs.SHA256)
				}
			}
		})
	}
}

// BenchmarkRead parses the synthetic log without replaying it.
func BenchmarkRead(b *testing.B) {
	log, _ := synthetic()
	b.SetBytes(int64(len(log)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := NewReader(bytes.NewReader(log))
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := r.Next(); err != nil {
				break
			}
		}
	}
}
