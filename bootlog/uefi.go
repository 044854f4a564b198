package bootlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
)

// uefiVariable is a UEFI_VARIABLE_DATA structure (TCG PC Client Platform
// Firmware Profile, 10.2.3): the measured form of a UEFI variable.
type uefiVariable struct {
	Name string
	Data []byte
}

var errShort = errors.New("structure shorter than its length fields say")

// parseVariable parses a UEFI_VARIABLE_DATA: VariableName GUID (16 bytes),
// UnicodeNameLength (u64, in UTF-16 units), VariableDataLength (u64),
// UnicodeName, VariableData. Trailing bytes are refused.
func parseVariable(b []byte) (uefiVariable, error) {
	if len(b) < 32 {
		return uefiVariable{}, fmt.Errorf("UEFI_VARIABLE_DATA: %w (%d bytes, the header is 32)", errShort, len(b))
	}
	nameLen := binary.LittleEndian.Uint64(b[16:24])
	dataLen := binary.LittleEndian.Uint64(b[24:32])
	rest := uint64(len(b) - 32)
	if nameLen > rest/2 || dataLen > rest-2*nameLen {
		return uefiVariable{}, fmt.Errorf("UEFI_VARIABLE_DATA: %w (name %d units, data %d bytes, %d bytes present)", errShort, nameLen, dataLen, rest)
	}
	if 2*nameLen+dataLen != rest {
		return uefiVariable{}, fmt.Errorf("UEFI_VARIABLE_DATA: %d bytes after the name and data", rest-2*nameLen-dataLen)
	}
	name := utf16String(b[32 : 32+2*nameLen])
	return uefiVariable{Name: name, Data: b[32+2*nameLen:]}, nil
}

// utf16String decodes little-endian UTF-16 up to the first NUL.
func utf16String(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// imageLoadPath returns the file path named by the device path of a
// UEFI_IMAGE_LOAD_EVENT (ImageLocationInMemory, ImageLengthInMemory,
// ImageLinkTimeAddress, LengthOfDevicePath: u64 each; then the device
// path), or "" when it names none. The path is a hint: the event's digest
// covers the image, not this structure.
func imageLoadPath(b []byte) string {
	if len(b) < 32 {
		return ""
	}
	n := binary.LittleEndian.Uint64(b[24:32])
	if n > uint64(len(b)-32) {
		return ""
	}
	dp := b[32 : 32+n]
	var parts []string
	for len(dp) >= 4 {
		typ, sub, l := dp[0], dp[1], int(binary.LittleEndian.Uint16(dp[2:4]))
		if l < 4 || l > len(dp) || typ == 0x7f {
			break
		}
		if typ == 0x04 && sub == 0x04 { // Media, File Path
			if p := utf16String(dp[4:l]); p != "" {
				parts = append(parts, p)
			}
		}
		dp = dp[l:]
	}
	return strings.Join(parts, "")
}

// taggedEvent parses a TCG_PCClientTaggedEvent: taggedEventID (u32),
// taggedEventDataSize (u32), taggedEventData.
func taggedEvent(b []byte) (id uint32, data []byte, ok bool) {
	if len(b) < 8 {
		return 0, nil, false
	}
	id = binary.LittleEndian.Uint32(b)
	n := binary.LittleEndian.Uint32(b[4:])
	if uint64(n) != uint64(len(b)-8) {
		return 0, nil, false
	}
	return id, b[8:], true
}
