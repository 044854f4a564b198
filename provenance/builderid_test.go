package provenance

import (
	"testing"

	"github.com/attest-build/attest-build/predicates"
)

func TestBuilderIDModeInvertsBuilderID(t *testing.T) {
	for _, mode := range []string{predicates.ModeDevice, predicates.ModeSwtpm, predicates.ModeSim} {
		for _, custom := range []string{"", "https://ci.example/runners/x"} {
			id, err := BuilderID(mode, custom)
			if err != nil {
				t.Fatal(err)
			}
			got, err := predicates.BuilderIDMode(id)
			if err != nil || got != mode {
				t.Errorf("BuilderIDMode(%q) = %q, %v; want %s", id, got, err, mode)
			}
		}
	}
	for _, id := range []string{
		"https://github.com/attest-build/attest-build/builders/tpm-hsm/v0.1",
		"https://github.com/attest-build/attest-build/builders/tpm-device/v0.2",
		"https://github.com/attest-build/attest-build/builders/tpm-device/v0.1#sim",
		"https://ci.example/runners/x",
		"https://ci.example/runners/x#hardware",
		"runners/x#device",
		"https://ci.example/a#b#device",
	} {
		if mode, err := predicates.BuilderIDMode(id); err == nil {
			t.Errorf("BuilderIDMode(%q) = %q, want an error", id, mode)
		}
	}
}
