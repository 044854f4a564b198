package tpm

import (
	"encoding/binary"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// TPM_GENERATED_VALUE and TPM_ST_ATTEST_QUOTE (TPM 2.0 Part 2, 6.2 and 6.9).
const (
	tpmGenerated     = 0xff544347
	tpmSTAttestQuote = 0x8018
)

// Bounds on a decoded quote, far above any TPM's: they keep work and memory
// in proportion to the input.
const (
	maxSelectionBanks = 16
	maxSelectBytes    = 32 // 256 PCRs per bank
)

// attestInfo is a decoded TPMS_ATTEST. Its fields are untrusted until the
// signature over the raw bytes has been checked.
type attestInfo struct {
	magic           uint32
	typ             uint16
	qualifiedSigner []byte
	extraData       []byte
	clock           ClockInfo
	firmwareVersion uint64
	// For quotes only:
	selection PCRSelection
	slots     []pcrSlot
	pcrDigest []byte
}

// reader decodes big-endian TPM structures and reports the field and byte
// offset of the first problem.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) need(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b)-r.off < n {
		r.err = fmt.Errorf("%w: %s at byte %d: need %d bytes, %d left", ErrMalformed, field, r.off, n, len(r.b)-r.off)
		return nil
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v
}

func (r *reader) u8(field string) uint8 {
	if v := r.need(1, field); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u16(field string) uint16 {
	if v := r.need(2, field); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (r *reader) u32(field string) uint32 {
	if v := r.need(4, field); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *reader) u64(field string) uint64 {
	if v := r.need(8, field); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// tpm2b reads a TPM2B: a 16-bit size and that many bytes.
func (r *reader) tpm2b(field string) []byte {
	n := r.u16(field + " size")
	return r.need(int(n), field)
}

func (r *reader) fail(format string, a ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, a...))
	}
}

// parseAttest decodes TPMS_ATTEST bytes. Magic and type are decoded but not
// checked here (the caller names those failures); the attested part is
// decoded only for quotes. Trailing bytes are an error.
func parseAttest(b []byte) (*attestInfo, error) {
	r := &reader{b: b}
	a := &attestInfo{}
	a.magic = r.u32("TPMS_ATTEST.magic")
	a.typ = r.u16("TPMS_ATTEST.type")
	a.qualifiedSigner = r.tpm2b("TPMS_ATTEST.qualifiedSigner")
	a.extraData = r.tpm2b("TPMS_ATTEST.extraData")
	a.clock.Clock = r.u64("TPMS_ATTEST.clockInfo.clock")
	a.clock.ResetCount = r.u32("TPMS_ATTEST.clockInfo.resetCount")
	a.clock.RestartCount = r.u32("TPMS_ATTEST.clockInfo.restartCount")
	safeOff := r.off
	switch r.u8("TPMS_ATTEST.clockInfo.safe") {
	case 0:
	case 1:
		a.clock.Safe = true
	default:
		r.fail("TPMS_ATTEST.clockInfo.safe at byte %d: not 0 or 1", safeOff)
	}
	a.firmwareVersion = r.u64("TPMS_ATTEST.firmwareVersion")
	if r.err != nil {
		return nil, r.err
	}
	if a.magic != tpmGenerated || a.typ != tpmSTAttestQuote {
		return a, nil
	}
	a.selection, a.slots = readSelection(r, "TPMS_QUOTE_INFO.pcrSelect")
	a.pcrDigest = r.tpm2b("TPMS_QUOTE_INFO.pcrDigest")
	if r.err == nil && r.off != len(b) {
		r.fail("%d trailing bytes after TPMS_ATTEST at byte %d", len(b)-r.off, r.off)
	}
	if r.err != nil {
		return nil, r.err
	}
	return a, nil
}

// readSelection decodes a TPML_PCR_SELECTION.
func readSelection(r *reader, field string) (PCRSelection, []pcrSlot) {
	n := r.u32(field + ".count")
	if r.err == nil && n > maxSelectionBanks {
		r.fail("%s.count at byte %d: %d banks, at most %d", field, r.off-4, n, maxSelectionBanks)
	}
	var sel PCRSelection
	var slots []pcrSlot
	for i := 0; i < int(n) && r.err == nil; i++ {
		algOff := r.off
		alg := tpm2.TPMAlgID(r.u16(fmt.Sprintf("%s[%d].hash", field, i)))
		size := r.u8(fmt.Sprintf("%s[%d].sizeofSelect", field, i))
		if r.err == nil && size > maxSelectBytes {
			r.fail("%s[%d].sizeofSelect at byte %d: %d, at most %d", field, i, r.off-1, size, maxSelectBytes)
		}
		bits := r.need(int(size), fmt.Sprintf("%s[%d].pcrSelect", field, i))
		if r.err != nil {
			break
		}
		name, h, ok := algBank(alg)
		if !ok {
			r.fail("%s[%d].hash at byte %d: unsupported PCR bank algorithm 0x%04x", field, i, algOff, uint16(alg))
			break
		}
		for _, o := range sel {
			if o.Bank == name {
				r.fail("%s[%d].hash at byte %d: bank %s selected twice", field, i, algOff, name)
			}
		}
		var idx []int
		for j := 0; j < int(size)*8; j++ {
			if bits[j/8]&(1<<(j%8)) != 0 {
				idx = append(idx, j)
				slots = append(slots, pcrSlot{bank: name, hash: h, index: j})
			}
		}
		// A bank with no PCR selected adds nothing to the digest; keep it
		// out of the selection so String() stays parseable.
		if len(idx) > 0 {
			sel = append(sel, PCRBank{Bank: name, Indices: idx})
		}
	}
	return sel, slots
}
