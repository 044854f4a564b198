//go:build simulator && cgo

package main

import (
	"encoding/json"
	"regexp"
	"testing"
)

// tpm info and the predicate (inspect) print the same TPM's firmware
// version alike; the quotes' firmwareVersion (obfuscated by the TPM for an
// owner-hierarchy key, so another value) is printed in the same form.
func TestFirmwareVersionOneForm(t *testing.T) {
	simBuilds(t) // c.bin.intoto.jsonl, on the simulator
	info, err := runCLI(t, "tpm", "info", "--tpm", "sim")
	if err != nil {
		t.Fatalf("tpm info: %v\n%s", err, info)
	}
	m := regexp.MustCompile(`(?m)^firmware:\s+(\S+)$`).FindStringSubmatch(info)
	if m == nil || !regexp.MustCompile(`^[0-9a-f]{8}\.[0-9a-f]{8}$`).MatchString(m[1]) {
		t.Fatalf("tpm info firmware line: %q\n%s", m, info)
	}
	out, err := runCLI(t, "inspect", "--format", "json", "c.bin.intoto.jsonl")
	if err != nil {
		t.Fatalf("inspect: %v\n%s", err, out)
	}
	var s struct {
		Envelopes []struct {
			TPMIMA *struct {
				FirmwareVersion string                           `json:"firmwareVersion"`
				StartQuote      struct{ FirmwareVersion string } `json:"startQuote"`
				EndQuote        struct{ FirmwareVersion string } `json:"endQuote"`
			} `json:"tpmIma"`
		} `json:"envelopes"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil || len(s.Envelopes) == 0 || s.Envelopes[0].TPMIMA == nil {
		t.Fatalf("inspect JSON: %v\n%s", err, out)
	}
	ti := s.Envelopes[0].TPMIMA
	if ti.FirmwareVersion != m[1] {
		t.Errorf("predicate firmware %q, tpm info says %q", ti.FirmwareVersion, m[1])
	}
	for name, got := range map[string]string{"start quote": ti.StartQuote.FirmwareVersion, "end quote": ti.EndQuote.FirmwareVersion} {
		if !regexp.MustCompile(`^[0-9a-f]{8}\.[0-9a-f]{8}$`).MatchString(got) {
			t.Errorf("%s firmware %q, want the form of tpm info's %q", name, got, m[1])
		}
	}
}
