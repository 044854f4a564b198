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
// the TPM reports them. A TPML_DIGEST holds 8 digests, as one TPM2_PCR_Read
// returns: tpm2_quote writes one list per read, tpm2_checkquote takes the
// digests from the lists in order.
func serializedPCRs(indices []int, values [][]byte) ([]byte, error) {
	const (
		algSHA256      = 0x000b
		maxSelections  = 16 // TPM2_NUM_PCR_BANKS
		selectionSize  = 8  // TPMS_PCR_SELECTION: hash u16, sizeofSelect u8, pcrSelect[4], 1 byte padding
		digestsPerList = 8  // TPML_DIGEST holds 8 TPM2B_DIGEST
		digestBufSize  = 64 // sizeof(TPMU_HA)
	)
	if len(indices) == 0 || len(indices) > 24 || len(indices) != len(values) {
		return nil, fmt.Errorf("serializedPCRs: want 1 to 24 PCRs with one value each, got %d indices and %d values", len(indices), len(values))
	}
	var b bytes.Buffer
	le := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	le(uint32(1))
	sel := [4]byte{}
	for i, pcr := range indices {
		if pcr < 0 || pcr > 23 || (i > 0 && pcr <= indices[i-1]) {
			return nil, fmt.Errorf("serializedPCRs: PCR indices %v: want ascending, in 0-23", indices)
		}
		sel[pcr/8] |= 1 << (pcr % 8)
	}
	le(uint16(algSHA256))
	b.WriteByte(3)
	b.Write(sel[:])
	b.WriteByte(0)
	b.Write(make([]byte, (maxSelections-1)*selectionSize))
	lists := (len(values) + digestsPerList - 1) / digestsPerList
	le(uint32(lists))
	for l := 0; l < lists; l++ {
		chunk := values[l*digestsPerList : min(len(values), (l+1)*digestsPerList)]
		le(uint32(len(chunk)))
		for i := 0; i < digestsPerList; i++ {
			buf := make([]byte, digestBufSize)
			if i < len(chunk) {
				if len(chunk[i]) != 32 {
					return nil, fmt.Errorf("serializedPCRs: PCR %d value has %d bytes, want 32", indices[l*digestsPerList+i], len(chunk[i]))
				}
				le(uint16(32))
				copy(buf, chunk[i])
			} else {
				le(uint16(0))
			}
			b.Write(buf)
		}
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
	if _, err := serializedPCRs([]int{10, 9}, [][]byte{v, v}); err == nil {
		t.Error("serializedPCRs accepted descending PCR indices")
	}
	// More than 8 PCRs take two TPML_DIGEST lists (tpm2_checkquote on the
	// real attestations, whose quotes cover sha256:0-10, checks the layout).
	eleven := make([][]byte, 11)
	for i := range eleven {
		eleven[i] = v
	}
	got, err = serializedPCRs([]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, eleven)
	if err != nil {
		t.Fatal(err)
	}
	const header, list = 4 + 16*8 + 4, 4 + 8*(2+64)
	if len(got) != header+2*list || binary.LittleEndian.Uint32(got[header-4:]) != 2 || got[7] != 0xff || got[8] != 0x07 {
		t.Errorf("serializedPCRs of sha256:0-10: %d bytes, %d lists, selection %x; want %d bytes, 2 lists, ff07",
			len(got), binary.LittleEndian.Uint32(got[header-4:]), got[7:9], header+2*list)
	}
}
