// Command imagen writes a synthetic ima-ng IMA log for benchmarks, and the
// PCR 10 values it replays to as evmctl PCR files.
//
//	go run ./evidence/internal/imagen/cmd/imagen -n 200000 -o /tmp/ima.bin -pcrs /tmp/ima
//
// writes /tmp/ima.bin, /tmp/ima.sha1.pcrs and /tmp/ima.sha256.pcrs, and
// prints the sha1 and sha256 PCR 10 values.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/attest-build/attest-build/evidence/internal/imagen"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "imagen:", err)
		os.Exit(1)
	}
}

func run() error {
	n := flag.Int("n", 200000, "number of entries")
	seed := flag.Uint64("seed", 1, "PRNG seed")
	viol := flag.Int("violation-every", 10000, "one violation every N entries (0: none)")
	out := flag.String("o", "", "output log file (required)")
	pcrs := flag.String("pcrs", "", "prefix for PCR files PREFIX.sha1.pcrs and PREFIX.sha256.pcrs")
	flag.Parse()
	if *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	p, err := imagen.Write(f, imagen.Options{Entries: *n, Seed: *seed, ViolationEvery: *viol})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if *pcrs != "" {
		for _, pf := range []struct {
			name string
			v    []byte
		}{{"sha1", p.SHA1[:]}, {"sha256", p.SHA256[:]}} {
			g, err := os.Create(*pcrs + "." + pf.name + ".pcrs")
			if err != nil {
				return err
			}
			err = imagen.WriteEvmctlPCRs(g, pf.v)
			if cerr := g.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
	fmt.Printf("sha1 %x\nsha256 %x\n", p.SHA1, p.SHA256)
	return nil
}
