//go:build simulator && cgo

package tpm

import (
	"fmt"

	"github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/tpm2/transport"
)

// SimulatorSeed is the fixed seed of the in-process simulator's hierarchy
// seeds: its primary keys (and so the AK) are the same in every run. Keys
// from a fixed-seed simulator protect nothing; it is for tests and demos.
const SimulatorSeed int64 = 0x61747465737462 // "attestb"

// SimulatorAvailable reports whether this binary has the in-process simulator.
const SimulatorAvailable = true

func openSim() (*TPM, error) {
	s, err := simulator.GetWithFixedSeedInsecure(SimulatorSeed)
	if err != nil {
		return nil, fmt.Errorf("opening TPM simulator: %w", err)
	}
	c := transport.FromReadWriteCloser(s)
	return &TPM{mode: ModeSim, t: c, close: c.Close}, nil
}
