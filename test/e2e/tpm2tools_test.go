package e2e

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
)

// serializedPCRs encodes sha256 PCR values the way tpm2-tools 5.x writes
// them with tpm2_quote -o (its default "serialized" format, which
// tpm2_checkquote -f reads): the C structures TPML_PCR_SELECTION, a uint32
// count of TPML_DIGEST lists, then the lists, in the host's (little-endian)
// memory layout. values[i] is the value of PCR indices[i]; indices ascend, as
// the TPM reports them; at most 8 PCRs (one TPML_DIGEST).
func serializedPCRs(indices []int, values [][]byte) ([]byte, error) {
	const (
		algSHA256      = 0x000b
		maxSelections  = 16 // TPM2_NUM_PCR_BANKS
		selectionSize  = 8  // TPMS_PCR_SELECTION: hash u16, sizeofSelect u8, pcrSelect[4], 1 byte padding
		digestsPerList = 8  // TPML_DIGEST holds 8 TPM2B_DIGEST
		digestBufSize  = 64 // sizeof(TPMU_HA)
	)
	if len(indices) == 0 || len(indices) > digestsPerList || len(indices) != len(values) {
		return nil, fmt.Errorf("serializedPCRs: want 1 to %d PCRs with one value each, got %d indices and %d values", digestsPerList, len(indices), len(values))
	}
	var b bytes.Buffer
	le := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	le(uint32(1))
	sel := [4]byte{}
	for _, i := range indices {
		if i < 0 || i > 23 {
			return nil, fmt.Errorf("serializedPCRs: PCR index %d out of range 0-23", i)
		}
		sel[i/8] |= 1 << (i % 8)
	}
	le(uint16(algSHA256))
	b.WriteByte(3)
	b.Write(sel[:])
	b.WriteByte(0)
	b.Write(make([]byte, (maxSelections-1)*selectionSize))
	le(uint32(1)) // one TPML_DIGEST
	le(uint32(len(values)))
	for i := 0; i < digestsPerList; i++ {
		buf := make([]byte, digestBufSize)
		if i < len(values) {
			if len(values[i]) != 32 {
				return nil, fmt.Errorf("serializedPCRs: PCR %d value has %d bytes, want 32", indices[i], len(values[i]))
			}
			le(uint16(32))
			copy(buf, values[i])
		} else {
			le(uint16(0))
		}
		b.Write(buf)
	}
	return b.Bytes(), nil
}

// TestSerializedPCRs checks serializedPCRs against a file tpm2_quote wrote in the e2e VM.
func TestSerializedPCRs(t *testing.T) {
	want, err := os.ReadFile("testdata/tpm2_quote-sha256-10.pcrs")
	if err != nil {
		t.Fatal(err)
	}
	v, _ := hex.DecodeString("6b034aaaf8bbb1f2bb522fef5a25aab63e6c4da62a430a40885957dcab669ff0")
	got, err := serializedPCRs([]int{10}, [][]byte{v})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("serializedPCRs differs from tpm2_quote's file:\n got %x\nwant %x", got, want)
	}
	if _, err := serializedPCRs([]int{10}, [][]byte{v[:20]}); err == nil {
		t.Error("serializedPCRs accepted a 20-byte sha256 PCR value")
	}
}
