//go:build !simulator || !cgo

package tpm

import "fmt"

// SimulatorAvailable reports whether this binary has the in-process simulator.
const SimulatorAvailable = false

func openSim() (*TPM, error) {
	return nil, fmt.Errorf("opening TPM %q: %w", RefSim, ErrSimulatorUnavailable)
}
