package tpm

import (
	"crypto/x509"
	"slices"
	"testing"
)

func TestInfo(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			info, err := be.open(t).Info()
			if err != nil {
				t.Fatalf("Info: %v", err)
			}
			if info.Manufacturer == "" || info.ManufacturerID == 0 || info.FirmwareVersion == 0 || info.SpecRevision < 116 {
				t.Errorf("identity incomplete: %+v", info)
			}
			if !slices.Contains(info.PCRBanks, "sha256") {
				t.Errorf("PCR banks %v lack sha256", info.PCRBanks)
			}
			if be.name != "swtpm" {
				return
			}
			// swtpmtest manufactures swtpm with sha1+sha256 banks and EK
			// certificates (RSA 2048 and ECC P-384) from swtpm-localca.
			if info.Manufacturer != "IBM" || !slices.Equal(info.PCRBanks, []string{"sha1", "sha256"}) {
				t.Errorf("swtpm: manufacturer %q banks %v, want IBM [sha1 sha256]", info.Manufacturer, info.PCRBanks)
			}
			var kinds []string
			for _, c := range info.EKCerts {
				cert, err := x509.ParseCertificate(c.DER)
				if err != nil {
					t.Fatalf("EK certificate at 0x%08x: %v", c.Index, err)
				}
				kinds = append(kinds, c.Kind)
				t.Logf("EK cert 0x%08x %s: issuer %s", c.Index, c.Kind, cert.Issuer)
			}
			if !slices.Contains(kinds, "RSA 2048") {
				t.Errorf("EK certificates %v lack the RSA 2048 one at 0x01c00002", kinds)
			}
		})
	}
}

// One form for a firmware version everywhere: HIGH.LOW in hex, 8 digits each.
func TestFormatFirmwareVersion(t *testing.T) {
	if got := FormatFirmwareVersion(0x2017061900163636); got != "20170619.00163636" {
		t.Errorf("FormatFirmwareVersion = %q, want 20170619.00163636", got)
	}
	if got := (&Info{FirmwareVersion: 0x1_00000002}).FirmwareString(); got != "00000001.00000002" {
		t.Errorf("FirmwareString = %q", got)
	}
}
