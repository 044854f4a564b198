package bootlog

import (
	"encoding/hex"
	"fmt"

	"github.com/attest-build/attest-build/evidence"
	"github.com/attest-build/attest-build/predicates"
)

// QuotedPCRs returns the boot PCRs (0-9) among a quote's PCR values. The
// caller must have verified the quote (signature, key, nonce, PCR digest).
func QuotedPCRs(pcrs []predicates.PCR) (PCRValues, error) {
	out := PCRValues{}
	for i, p := range pcrs {
		if p.Index < 0 || p.Index > 9 {
			continue
		}
		b, err := evidence.ParseBank(p.Bank)
		if err != nil {
			return nil, fmt.Errorf("quoted PCR %d: %w", i, err)
		}
		v, err := hex.DecodeString(p.Value)
		if err != nil || len(v) != b.Size() {
			return nil, fmt.Errorf("quoted %v PCR %d: value %q is not %d bytes of hex", b, p.Index, p.Value, b.Size())
		}
		if out[b] == nil {
			out[b] = map[int][]byte{}
		}
		out[b][p.Index] = v
	}
	return out, nil
}
