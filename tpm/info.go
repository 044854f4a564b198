package tpm

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-tpm/tpm2"
)

// EK certificate NV indices (TCG EK Credential Profile 2.0, 2.2.1.4).
const (
	EKCertIndexRSA2048 uint32 = 0x01c00002
	EKCertIndexECCP256 uint32 = 0x01c0000a
	EKCertIndexRSA3072 uint32 = 0x01c0001c
	EKCertIndexECCP384 uint32 = 0x01c00016
)

var ekCertIndices = []struct {
	index uint32
	kind  string
}{
	{EKCertIndexRSA2048, "RSA 2048"},
	{EKCertIndexECCP256, "ECC P-256"},
	{EKCertIndexRSA3072, "RSA 3072"},
	{EKCertIndexECCP384, "ECC P-384"},
}

// maxEKCertSize bounds an EK certificate read from NV.
const maxEKCertSize = 16 << 10

// Info identifies a TPM.
type Info struct {
	Manufacturer    string   // TPM_PT_MANUFACTURER as ASCII, such as "IBM", "STM", "GOOG"
	ManufacturerID  uint32   // TPM_PT_MANUFACTURER as a number
	VendorStrings   string   // TPM_PT_VENDOR_STRING_1..4, joined
	FirmwareVersion uint64   // TPM_PT_FIRMWARE_VERSION_1 << 32 | _2
	SpecRevision    uint32   // TPM_PT_REVISION (e.g. 164 for 1.64)
	PCRBanks        []string // banks with at least one PCR allocated ("sha1", "sha256", ...; unknown ones as "alg-0xNNNN")
	EKCerts         []EKCert // EK certificates found in NV
}

// EKCert is an endorsement key certificate read from NV.
type EKCert struct {
	Index uint32 // NV index
	Kind  string // "RSA 2048", "ECC P-256", ...
	DER   []byte // as stored (some TPMs pad it; it is not parsed here)
}

// FirmwareString formats the firmware version as the hex of its two 32-bit
// properties (TPM_PT_FIRMWARE_VERSION_1.TPM_PT_FIRMWARE_VERSION_2); the
// meaning of the digits is the vendor's.
func (i *Info) FirmwareString() string {
	return FormatFirmwareVersion(i.FirmwareVersion)
}

// FormatFirmwareVersion is the one form attest-build prints a TPM firmware
// version in (tpm info, the predicate, inspect, verify): the hex of
// TPM_PT_FIRMWARE_VERSION_1 and _2, "HIGH.LOW", eight digits each, as the
// TPM reports them (vendors often encode a date: 20170619.00163636).
func FormatFirmwareVersion(v uint64) string {
	return fmt.Sprintf("%08x.%08x", v>>32, v&0xffffffff)
}

// Info reads the TPM's manufacturer, vendor strings, firmware version,
// allocated PCR banks and EK certificates (RSA 0x01c00002, ECC 0x01c0000a,
// and the RSA 3072 and ECC P-384 indices) when present.
func (t *TPM) Info() (*Info, error) {
	props, err := t.properties(tpm2.TPMPTManufacturer, 32)
	if err != nil {
		return nil, err
	}
	info := &Info{
		ManufacturerID:  props[tpm2.TPMPTManufacturer],
		Manufacturer:    propString(props[tpm2.TPMPTManufacturer]),
		FirmwareVersion: uint64(props[tpm2.TPMPTFirmwareVersion1])<<32 | uint64(props[tpm2.TPMPTFirmwareVersion2]),
	}
	var vendor strings.Builder
	for _, p := range []tpm2.TPMPT{tpm2.TPMPTVendorString1, tpm2.TPMPTVendorString2, tpm2.TPMPTVendorString3, tpm2.TPMPTVendorString4} {
		vendor.WriteString(propString(props[p]))
	}
	info.VendorStrings = strings.TrimSpace(vendor.String())
	rev, err := t.properties(tpm2.TPMPTRevision, 1)
	if err != nil {
		return nil, err
	}
	info.SpecRevision = rev[tpm2.TPMPTRevision]

	caps, err := tpm2.GetCapability{Capability: tpm2.TPMCapPCRs, PropertyCount: 1}.Execute(t.t)
	if err != nil {
		return nil, fmt.Errorf("reading PCR banks: %w", err)
	}
	pcrs, err := caps.CapabilityData.Data.AssignedPCR()
	if err != nil {
		return nil, fmt.Errorf("reading PCR banks: %w", err)
	}
	for _, s := range pcrs.PCRSelections {
		if !bytes.ContainsFunc(s.PCRSelect, func(r rune) bool { return r != 0 }) {
			continue
		}
		name, _, ok := algBank(s.Hash)
		if !ok {
			name = fmt.Sprintf("alg-0x%04x", uint16(s.Hash))
		}
		info.PCRBanks = append(info.PCRBanks, name)
	}

	for _, e := range ekCertIndices {
		der, err := t.readNV(e.index)
		if errors.Is(err, errNVAbsent) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s EK certificate at NV 0x%08x: %w", e.kind, e.index, err)
		}
		info.EKCerts = append(info.EKCerts, EKCert{Index: e.index, Kind: e.kind, DER: der})
	}
	return info, nil
}

// properties reads up to n TPM properties starting at first.
func (t *TPM) properties(first tpm2.TPMPT, n uint32) (map[tpm2.TPMPT]uint32, error) {
	rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapTPMProperties, Property: uint32(first), PropertyCount: n}.Execute(t.t)
	if err != nil {
		return nil, fmt.Errorf("reading TPM properties from 0x%x: %w", uint32(first), err)
	}
	tp, err := rsp.CapabilityData.Data.TPMProperties()
	if err != nil {
		return nil, fmt.Errorf("reading TPM properties from 0x%x: %w", uint32(first), err)
	}
	out := make(map[tpm2.TPMPT]uint32, len(tp.TPMProperty))
	for _, p := range tp.TPMProperty {
		out[p.Property] = p.Value
	}
	return out, nil
}

// propString decodes a 4-character property (big-endian ASCII, NUL padded).
func propString(v uint32) string {
	b := []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
	return strings.TrimRight(strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return -1
		}
		return r
	}, string(b)), " ")
}

var errNVAbsent = errors.New("NV index not defined")

// nvChunk is the size of each TPM2_NV_Read; every TPM accepts 512 bytes
// (MAX_NV_BUFFER_SIZE is at least that in practice).
const nvChunk = 512

// readNV reads a whole NV index with the index's own (empty) authorization,
// falling back to the owner's.
func (t *TPM) readNV(index uint32) ([]byte, error) {
	h := tpm2.TPMHandle(index)
	pub, err := tpm2.NVReadPublic{NVIndex: h}.Execute(t.t)
	if errors.Is(err, tpm2.TPMRCHandle) {
		return nil, errNVAbsent
	}
	if err != nil {
		return nil, err
	}
	nv, err := pub.NVPublic.Contents()
	if err != nil {
		return nil, err
	}
	if nv.DataSize > maxEKCertSize {
		return nil, fmt.Errorf("NV index holds %d bytes, more than %d", nv.DataSize, maxEKCertSize)
	}
	read := func(auth tpm2.TPMHandle, authName tpm2.TPM2BName) ([]byte, error) {
		var out []byte
		for off := 0; off < int(nv.DataSize); off += nvChunk {
			n := min(nvChunk, int(nv.DataSize)-off)
			rsp, err := tpm2.NVRead{
				AuthHandle: tpm2.AuthHandle{Handle: auth, Name: authName, Auth: tpm2.PasswordAuth(nil)},
				NVIndex:    tpm2.NamedHandle{Handle: h, Name: pub.NVName},
				Size:       uint16(n),
				Offset:     uint16(off),
			}.Execute(t.t)
			if err != nil {
				return nil, err
			}
			out = append(out, rsp.Data.Buffer...)
		}
		return out, nil
	}
	der, err := read(h, pub.NVName)
	if err != nil {
		der, err = read(tpm2.TPMRHOwner, tpm2.HandleName(tpm2.TPMRHOwner))
	}
	return der, err
}
